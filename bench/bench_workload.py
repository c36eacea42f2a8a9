"""The canonical workload: smrules against the hand-written baseline, side by side.

    python bench/bench_workload.py [--n 20000] [--rounds 3] [--shared PATH]

Generates the fixed activities (seed 1234), checks that smrules and `baseline.py` agree on the
decision and the fired rules for every one, then times both in the same process, interleaved,
and reports smrules / baseline ratios of the median per-decision time and of throughput.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def shared_bench_dir(explicit: str | None) -> Path:
    candidates = [
        explicit,
        os.environ.get("SMRULES_BENCH"),
        HERE.parent.parent / "shared" / "bench",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "baseline.py").is_file():
            return Path(candidate).resolve()
    raise SystemExit("cannot find the shared benchmark workload; pass --shared PATH")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--shared", default=None)
    args = parser.parse_args()

    shared = shared_bench_dir(args.shared)
    sys.path.insert(0, str(shared))
    import activities  # noqa: E402
    import baseline  # noqa: E402

    import smrules

    acts = activities.generate(args.n, args.seed)
    t0 = time.perf_counter()
    policy = smrules.load(shared / "policy")
    compile_ms = (time.perf_counter() - t0) * 1e3

    def smrules_eval(a):
        d = policy.evaluate(a)
        return d.decision, tuple(
            sorted(f.rule for f in d.findings if f.effect in ("deny", "warn") and not f.audit)
        )

    mismatches = [a["id"] for a in acts if smrules_eval(a) != baseline.evaluate(a)]
    sample = random.Random(args.seed + 1).sample(acts, min(args.sample, len(acts)))

    # Timed as the target states it: `policy.evaluate(activity)`, validation included; the
    # fired rules were compared above, for every activity.
    engines = {"baseline": baseline.evaluate, "smrules": policy.evaluate}
    names = list(engines)
    figures = {name: {"median_us": [], "p99_us": [], "per_s": []} for name in engines}

    # Each engine times runs of 100 activities in a row, as a bot deciding one activity after
    # another would, and the engines take turns run by run (alternating which goes first), so
    # that both see the same machine: on shared virtual machines speed drifts within seconds.
    def latencies() -> dict[str, list[int]]:
        lat: dict[str, list[int]] = {name: [] for name in engines}
        for a in sample[:50]:
            for ev in engines.values():
                ev(a)
        clock = time.perf_counter_ns
        for start in range(0, len(sample), 100):
            run = sample[start : start + 100]
            for name in names if start % 200 == 0 else names[::-1]:
                ev, out = engines[name], lat[name]
                for a in run:
                    t = clock()
                    ev(a)
                    out.append(clock() - t)
        return lat

    # Throughput: all activities, in slices of 500 that alternate between the engines.
    def rates() -> dict[str, float]:
        spent = dict.fromkeys(engines, 0.0)
        for start in range(0, len(acts), 500):
            part = acts[start : start + 500]
            for name in names if start % 1000 == 0 else names[::-1]:
                ev = engines[name]
                t = time.perf_counter()
                for a in part:
                    ev(a)
                spent[name] += time.perf_counter() - t
        return {name: len(acts) / spent[name] for name in engines}

    for _ in range(args.rounds):
        lat = latencies()
        per_s = rates()
        for name in engines:
            ordered = sorted(lat[name])
            figures[name]["median_us"].append(statistics.median(ordered) / 1e3)
            figures[name]["p99_us"].append(ordered[int(len(ordered) * 0.99)] / 1e3)
            figures[name]["per_s"].append(per_s[name])
    med = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in figures.items()}
    s, b = med["smrules"], med["baseline"]
    print(
        f"N={args.n} seed={args.seed} rounds={args.rounds} python={platform.python_version()} "
        f"cpu={platform.processor() or platform.machine()}"
    )
    print(f"mismatches {len(mismatches)}/{args.n} {mismatches[:5]}; compile {compile_ms:.1f} ms")
    print(
        f"baseline: median {b['median_us']:.1f} us, p99 {b['p99_us']:.1f} us, "
        f"{b['per_s']:.0f} decisions/s"
    )
    print(
        f"smrules:  median {s['median_us']:.1f} us, p99 {s['p99_us']:.1f} us, "
        f"{s['per_s']:.0f} decisions/s"
    )
    print(f"median per decision: smrules/baseline = {s['median_us'] / b['median_us']:.2f}")
    print(f"throughput: smrules/baseline = {s['per_s'] / b['per_s']:.2f}")
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
