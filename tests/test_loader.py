"""Policy directories: file order, imports, data files, extends, digest (SPEC §1, §2.3, §4)."""

from __future__ import annotations

import hashlib
import os

import pytest

import smrules
from conftest import write_policy
from smrules.loader import load_program


def test_file_order_and_names(tmp_path):
    write_policy(
        tmp_path,
        {
            "a.smr": 'rule from_a { warn "a" }',
            "a/b.smr": 'rule from_a_b { warn "ab" }',
            "b.smr": 'rule from_b { warn "b" }',
            ".hidden/x.smr": 'rule hidden { warn "h" }',
        },
    )
    policy = smrules.load(tmp_path)
    assert [r.id for r in policy.rules] == ["from_a_b", "from_a", "from_b"]
    assert policy.rules[0].source.file == "a/b.smr"
    assert policy.name == tmp_path.name


def test_single_file_policy_is_named_after_stem(tmp_path):
    write_policy(tmp_path, {"drafts.smr": 'rule r { warn "x" }'})
    policy = smrules.load(tmp_path / "drafts.smr")
    assert policy.name == "drafts"
    assert policy.rules[0].source.file == "drafts.smr"


def test_digest_is_defined_by_the_spec(tmp_path):
    files = {
        "main.smr": 'import "data/x.yaml" as x\nrule r { when kind in x.kinds warn "x" }\n',
        "data/x.yaml": "kinds: [post]\n",
        "waivers.yaml": "[]\n",
    }
    write_policy(tmp_path, files)
    expected = hashlib.sha256()
    for name in sorted(files, key=lambda p: tuple(p.split("/"))):
        raw = (tmp_path / name).read_bytes()
        expected.update(name.encode() + b"\0" + str(len(raw)).encode() + b"\0" + raw)
    assert smrules.load(tmp_path).digest == "sha256:" + expected.hexdigest()


def test_data_files_yaml_and_json_with_dates(tmp_path):
    write_policy(
        tmp_path,
        {
            "main.smr": """
            import "data/q.yaml" as q
            import "data/j.json" as j
            rule quiet { when time >= q.start and time < q.end warn "quiet" }
            rule listed { when kind in j.kinds warn "listed" }
            """,
            "data/q.yaml": "start: 2026-01-10\nend: 2026-01-20T00:00:00Z\nflag: yes\n",
            "data/j.json": '{"kinds": ["share"]}',
        },
    )
    policy = smrules.load(tmp_path)
    act = {"kind": "share", "actor": {"id": "a"}, "time": "2026-01-15T10:00:00Z"}
    assert policy.evaluate(act).counted_rules == ("quiet", "listed")
    assert policy.program.data["data/q.yaml"].value["flag"] == "yes"


def test_import_cannot_leave_policy_directory(tmp_path):
    (tmp_path / "outside.yaml").write_text("a: 1\n")
    write_policy(tmp_path / "p", {"main.smr": 'import "../outside.yaml" as o\n'})
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "p")
    assert err.value.diagnostics[0].code == "import-outside"
    assert err.value.diagnostics[0].span.line == 1


def test_import_through_symlink_cannot_leave(tmp_path):
    (tmp_path / "secret.yaml").write_text("a: 1\n")
    write_policy(tmp_path / "p", {"main.smr": 'import "data/link.yaml" as o\n'})
    (tmp_path / "p" / "data").mkdir()
    os.symlink(tmp_path / "secret.yaml", tmp_path / "p" / "data" / "link.yaml")
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "p")
    assert err.value.diagnostics[0].code == "import-outside"


def test_import_errors(tmp_path):
    write_policy(
        tmp_path,
        {
            "main.smr": (
                'import "missing.yaml" as m\nimport "notes.txt" as t\nimport "b.smr" as b\n'
            ),
            "b.smr": 'import "main.smr" as main\n',
            "notes.txt": "hello",
        },
    )
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path)
    codes = sorted(d.code for d in err.value.diagnostics)
    assert codes == ["bad-import", "import-cycle", "unreadable-file"]


def test_bad_data_files(tmp_path):
    write_policy(
        tmp_path,
        {
            "main.smr": 'import "d.yaml" as d\nimport "e.json" as e\n',
            "d.yaml": "a: 1\na: 2\n",
            "e.json": "{broken",
        },
    )
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path)
    files = sorted(d.span.file for d in err.value.diagnostics)
    assert files == ["d.yaml", "e.json"]


def test_binary_and_missing(tmp_path):
    (tmp_path / "bin.smr").write_bytes(b"rule \x00\x01")
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path)
    assert err.value.diagnostics[0].code == "binary-file"
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "nope")
    assert err.value.diagnostics[0].code == "policy-not-found"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(empty)
    assert err.value.diagnostics[0].code == "empty-policy"


def test_extends_base_policy(tmp_path):
    write_policy(
        tmp_path / "open",
        {
            "baseline.smr": 'policy open { version "1" timezone "Europe/Berlin" }\n'
            'rule base_rule { when kind == "post" warn "base" }\n',
        },
    )
    write_policy(
        tmp_path / "strict",
        {
            "main.smr": 'policy strict { extends "../open" default deny }\n'
            'rule allow_posts { when kind == "post" allow }\n',
        },
    )
    policy = smrules.load(tmp_path / "strict")
    assert policy.name == "strict"
    assert policy.settings.timezone == "Europe/Berlin"
    assert policy.version == "1"
    assert [r.source.file for r in policy.rules] == ["../open/baseline.smr", "main.smr"]
    assert policy.evaluate({"kind": "post", "actor": {"id": "a"}}).decision == "warn"
    d = policy.evaluate({"kind": "share", "actor": {"id": "a"}})
    assert d.decision == "deny" and d.findings[-1].rule == "default"


def test_extends_errors(tmp_path):
    write_policy(tmp_path / "a", {"main.smr": 'policy a { extends "../b" }'})
    write_policy(tmp_path / "b", {"main.smr": 'policy b { extends "../a" }'})
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "a")
    assert "extends-cycle" in [d.code for d in err.value.diagnostics]
    write_policy(tmp_path / "c", {"main.smr": 'policy c { extends "sub" }', "sub/x.smr": ""})
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "c")
    assert err.value.diagnostics[0].code == "bad-extends"


def test_duplicate_rule_across_base(tmp_path):
    write_policy(tmp_path / "base", {"x.smr": 'rule same { warn "a" }'})
    write_policy(
        tmp_path / "p", {"y.smr": 'policy p { extends "../base" }\nrule same { warn "b" }'}
    )
    with pytest.raises(smrules.PolicyError) as err:
        smrules.load(tmp_path / "p")
    (diag,) = err.value.diagnostics
    assert diag.code == "duplicate-rule" and "../base/x.smr:1:6" in diag.help


def test_program_is_reusable(tmp_path):
    write_policy(tmp_path, {"main.smr": 'rule r { warn "x" }'})
    program = load_program(tmp_path)
    assert program.modules[0].file == "main.smr"


def test_base_policy_imports_resolve_in_base_directory(tmp_path):
    write_policy(
        tmp_path / "company" / "open",
        {
            "baseline.smr": 'import "data/k.yaml" as k\nrule r { when kind in k.kinds warn "x" }\n',
            "data/k.yaml": "kinds: [share]\n",
        },
    )
    write_policy(
        tmp_path / "company" / "variants" / "strict",
        {
            "main.smr": 'policy strict { extends "../../open" }\n',
        },
    )
    policy = smrules.load(tmp_path / "company" / "variants" / "strict")
    assert policy.rules[0].source.file == "../../open/baseline.smr"
    assert "../../open/data/k.yaml" in policy.program.data
    assert policy.evaluate({"kind": "share", "actor": {"id": "a"}}).decision == "warn"
