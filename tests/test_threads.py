"""`Policy.evaluate` is safe from many threads: 8 threads give the same decisions as one."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)

POLICY = """
let long_text = len(content.text) > 40
rule money { when content.text matches /\\b(revenue|earnings)\\b/i deny "money" }
rule words { when content.text mentions ["acme cloud", "confiden*"] warn "words" }
rule links { when any(l in content.links: l.domain in ["bit.ly"]) warn "short" }
rule long { when long_text and kind == "post" warn "long" }
rule dynamic { when content.text matches context.pattern warn "dynamic" }
"""


def activities():
    texts = [
        "Our Q3 revenue beat expectations",
        "ACME Cloud is confidential until launch https://bit.ly/x",
        "A perfectly ordinary and rather long post about the weather today",
        "earnings call soon",
    ]
    out = []
    for i in range(400):
        out.append(
            {
                "id": f"a{i}",
                "kind": "post",
                "actor": {"id": f"e{i % 7}"},
                "content": {"text": texts[i % len(texts)] + f" #{i}"},
                "context": {"pattern": ["we[a-z]+", "(", "acme"][i % 3]},
            }
        )
    return out


def test_eight_threads_agree_with_one(make_policy):
    policy = make_policy(POLICY)
    acts = activities()
    expected = [policy.evaluate(a, now=NOW).to_json() for a in acts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda a: policy.evaluate(a, now=NOW).to_json(), acts))
            assert got == expected
    # a dynamic pattern that RE2 cannot compile is a run-time error of that rule only
    bad = policy.evaluate(acts[1], now=NOW)
    assert [e.rule for e in bad.errors] == ["dynamic"]
