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

    def median_us(ev):
        for a in sample[:50]:
            ev(a)
        lat = []
        for a in sample:
            t = time.perf_counter_ns()
            ev(a)
            lat.append(time.perf_counter_ns() - t)
        lat.sort()
        return statistics.median(lat) / 1e3, lat[int(len(lat) * 0.99)] / 1e3

    def per_second(ev):
        t = time.perf_counter()
        for a in acts:
            ev(a)
        return len(acts) / (time.perf_counter() - t)

    engines = {"baseline": baseline.evaluate, "smrules": smrules_eval}
    figures = {name: {"median_us": [], "p99_us": [], "per_s": []} for name in engines}
    for rnd in range(args.rounds):
        order = list(engines) if rnd % 2 == 0 else list(engines)[::-1]
        for name in order:
            med, p99 = median_us(engines[name])
            figures[name]["median_us"].append(med)
            figures[name]["p99_us"].append(p99)
            figures[name]["per_s"].append(per_second(engines[name]))
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
