"""The rule index of large policies decides exactly as testing every rule does."""

from __future__ import annotations

import datetime as dt
import random

import smrules
import smrules.guards as guards

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)
KINDS = ["post", "comment", "share", "message"]
PLATFORMS = ["linkedin", "x", "github", "reddit"]
DEPARTMENTS = ["sales", "hr", "legal"]
WORDS = ["launch", "pricing", "merger", "beta", "outage"]


def policy_source(n_rules: int) -> str:
    rng = random.Random(3)
    out = []
    for i in range(n_rules):
        first = rng.choice(
            [
                f'kind == "{rng.choice(KINDS)}"',
                f'platform in ["{rng.choice(PLATFORMS)}", "{rng.choice(PLATFORMS)}"]',
                f'"{rng.choice(DEPARTMENTS)}" == actor.department and len(content.text) > 3',
                "len(content.hashtags) >= 0",  # unguarded
            ]
        )
        word = rng.choice(WORDS)
        effect = rng.choice(["deny", "warn", "allow"])
        message = f' "r{i}"' if effect != "allow" else ""
        out.append(
            f"rule r{i:03d} {{\n  when {first}\n  when content.text matches /\\b{word}\\b/i\n"
            f"  unless context.skip == {i}\n  {effect}{message}\n}}\n"
        )
    return "\n".join(out)


def activities(n: int) -> list[dict]:
    rng = random.Random(9)
    acts = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS + ["hello", "team"]) for _ in range(6))
        act = {
            "id": f"a{i}",
            "kind": rng.choice(KINDS),
            "platform": rng.choice(PLATFORMS),
            "actor": {"id": "e", "department": rng.choice(DEPARTMENTS)},
            "content": {"text": text.upper() if i % 5 == 0 else text},
            "context": {"skip": rng.randrange(80)},
        }
        if i % 17 == 0:
            act["context"]["skip"] = "not a number"
        acts.append(act)
    return acts


def test_index_matches_testing_every_rule(tmp_path, monkeypatch):
    (tmp_path / "p.smr").write_text(policy_source(80), encoding="utf-8")
    indexed = smrules.load(tmp_path, cache=False)
    assert indexed._index is not None
    monkeypatch.setattr(guards, "MIN_RULES", 10_000)
    plain = smrules.load(tmp_path, cache=False)
    assert plain._index is None
    for act in activities(400):
        assert indexed.evaluate(act, now=NOW).to_json() == plain.evaluate(act, now=NOW).to_json()
