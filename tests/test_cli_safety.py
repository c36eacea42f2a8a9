"""Text output is safe for a terminal whatever the activity or the policy says."""

from __future__ import annotations


def test_text_output_never_sends_terminal_escapes(make_policy, tmp_path):
    """A message echoing activity text shows control characters escaped, not raw."""
    import json

    from click.testing import CliRunner

    from smrules.cli import main

    make_policy('rule echo { warn "said {content.text}" hint "{content.text}" }')
    activity = {
        "kind": "post",
        "actor": {"id": "a"},
        "content": {"text": "x\x1b[2J\x1b]0;pwned\x07"},
    }
    (tmp_path / "a.json").write_text(json.dumps(activity), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["check", "--policy", str(tmp_path / "policy"), str(tmp_path / "a.json")]
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "said x\\x1b[2J\\x1b]0;pwned\\x07" in result.stdout
