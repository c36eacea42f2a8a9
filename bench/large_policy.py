"""A generated policy of N rules selecting on kind, platform, department and text patterns.

    python bench/large_policy.py 1000 OUTDIR     # writes OUTDIR/large.smr

Used by the scaling benchmarks; deterministic for a given N and seed.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

KINDS = ["post", "comment", "reply", "share", "message", "livestream", "review", "job_ad"]
PLATFORMS = ["linkedin", "x", "facebook", "instagram", "tiktok", "youtube", "reddit", "github"]
DEPARTMENTS = ["marketing", "sales", "hr", "legal", "engineering", "finance", "support", "it"]
WORDS = [
    "launch",
    "roadmap",
    "pricing",
    "merger",
    "layoff",
    "earnings",
    "beta",
    "outage",
    "partner",
    "lawsuit",
    "recall",
    "acquisition",
    "forecast",
    "breach",
    "discount",
]


def generate_policy(n_rules: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = [
        "policy large_generated {",
        '  title "Generated policy for scaling benchmarks"',
        "  default allow",
        "}",
        "",
    ]
    for i in range(n_rules):
        kind = rng.choice(KINDS)
        platform = rng.choice(PLATFORMS)
        dept = rng.choice(DEPARTMENTS)
        word_a, word_b = rng.sample(WORDS, 2)
        effect = "deny" if i % 3 == 0 else "warn"
        guard = rng.choice(["kind", "platform", "department"])
        first = {
            "kind": f'kind == "{kind}"',
            "platform": f'platform in ["{platform}", "{rng.choice(PLATFORMS)}"]',
            "department": f'actor.department == "{dept}"',
        }[guard]
        lines += [
            f"rule gen_{i:04d} {{",
            "  risk reputation",
            "  severity low",
            f"  when {first}",
            f"  when content.text matches /\\b{word_a}\\b.{{0,40}}\\b{word_b}{i % 97}\\b/i",
            f'  {effect} "Generated rule {i}"',
            "}",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    n_rules = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "large-policy")
    out.mkdir(parents=True, exist_ok=True)
    (out / "large.smr").write_text(generate_policy(n_rules), encoding="utf-8")
    print(out / "large.smr")


if __name__ == "__main__":
    main()
