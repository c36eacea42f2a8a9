"""Scaling and latency benchmarks for docs/performance.md (run on demand, not in CI).

    python bench/bench_scaling.py [rules|lexicon|text|load|cli|batch|memory|all]

Each figure is measured side by side in one process run and reported as a ratio, because
absolute times on shared machines drift.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402
from bench_workload import shared_bench_dir  # noqa: E402
from large_policy import generate_policy  # noqa: E402

import smrules  # noqa: E402


def _workload(n: int, seed: int = 1234) -> list[dict]:
    shared = shared_bench_dir(None)
    sys.path.insert(0, str(shared))
    import activities

    return activities.generate(n, seed)


def _median_us(policy, acts, rounds: int = 3) -> float:
    samples = []
    for _ in range(rounds):
        lat = []
        for a in acts:
            t = time.perf_counter_ns()
            policy.evaluate(a)
            lat.append(time.perf_counter_ns() - t)
        samples.append(statistics.median(lat) / 1e3)
    return statistics.median(samples)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def bench_rules(tmp: Path) -> None:
    acts = _workload(3000)
    small = smrules.load(shared_bench_dir(None) / "policy", cache=False)
    large_dir = _write(tmp / "large", "large.smr", generate_policy(1000))
    t = time.perf_counter()
    large = smrules.load(large_dir, cache=False)
    compile_s = time.perf_counter() - t
    for a in acts[:200]:
        small.evaluate(a)
        large.evaluate(a)
    s, big = _median_us(small, acts), _median_us(large, acts)
    print(
        f"[rules] 30-rule median {s:.1f} us; 1000-rule median {big:.1f} us; "
        f"ratio {big / s:.2f} (target <= 5); compile 1000 rules {compile_s:.2f} s (target < 2)"
    )


def bench_lexicon(tmp: Path) -> None:
    rng = random.Random(5)
    words = [f"w{rng.randrange(10**8):08d}" for _ in range(30000)]
    text_words = ["the", "team", "shipped", "acme", "cloud", "today", "with", "great", "care"]
    posts = [" ".join(rng.choice(text_words) for _ in range(90))[:500] for _ in range(500)]
    acts = [{"kind": "post", "actor": {"id": "a"}, "content": {"text": p}} for p in posts]
    results = {}
    for size in (10, 10_000):
        phrases = [" ".join(words[i : i + 2]) for i in range(0, 2 * size, 2)]
        phrases[-1] = "acme cloud"
        d = _write(
            tmp / f"lex{size}",
            "p.smr",
            'import "data/l.yaml" as l\nrule r { when content.text mentions l.phrases warn "x" }\n',
        )
        (d / "data").mkdir(exist_ok=True)
        (d / "data" / "l.yaml").write_text(json.dumps({"phrases": phrases}))
        policy = smrules.load(d, cache=False)
        assert policy.evaluate(acts[0]).decision == "warn"
        results[size] = _median_us(policy, acts)
    print(
        f"[lexicon] 10 phrases {results[10]:.1f} us; 10,000 phrases {results[10_000]:.1f} us; "
        f"ratio {results[10_000] / results[10]:.2f} (target <= 2)"
    )


def bench_text(tmp: Path) -> None:
    policy = smrules.load(shared_bench_dir(None) / "policy", cache=False)
    base = (
        "We shipped the new build pipeline today; revenue talk is for IR. "
        "Contact press@example.com for details. "
    )
    out = {}
    for size in (1024, 64 * 1024, 1024 * 1024):
        text = (base * (size // len(base) + 1))[:size]
        act = {
            "kind": "post",
            "actor": {"id": "a"},
            "audience": "public",
            "platform": "x",
            "content": {"text": text},
        }
        runs = 21 if size < 1024 * 1024 else 5
        lat = []
        for _ in range(runs):
            t = time.perf_counter()
            policy.evaluate(act)
            lat.append(time.perf_counter() - t)
        out[size] = statistics.median(lat)
    per_kib = {k: v / (k / 1024) * 1e6 for k, v in out.items()}
    print(
        "[text] "
        + "; ".join(
            f"{k // 1024} KiB {v * 1e3:.2f} ms ({per_kib[k]:.1f} us/KiB)" for k, v in out.items()
        )
        + f"; 1 MiB per-KiB / 1 KiB per-KiB = {per_kib[1024 * 1024] / per_kib[1024]:.2f}"
    )


def bench_load(tmp: Path) -> None:
    """First load of the bundled policy in a fresh process (parser built, nothing cached)
    against loading it a second time in that process (from the on-disk cache)."""
    bundled = smrules.bundled_policy_path()
    env = {**os.environ, "SMRULES_CACHE_DIR": str(tmp / "load-cache")}
    code = (
        f"import time;t=time.perf_counter();import smrules;smrules.load({str(bundled)!r});"
        f"a=time.perf_counter()-t;t=time.perf_counter();smrules.load({str(bundled)!r});"
        "print(a, time.perf_counter()-t)"
    )
    first, second = map(
        float, subprocess.check_output([sys.executable, "-c", code], env=env, text=True).split()
    )
    again = [
        float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True).split()[0])
        for _ in range(3)
    ]
    print(
        f"[load] bundled policy first load {first * 1e3:.0f} ms; second load {second * 1e3:.0f} "
        f"ms (ratio {second / first:.3f}, target < 0.1); a new process with a warm cache "
        f"{statistics.median(again) * 1e3:.0f} ms, imports included"
    )


def _installed_env(tmp: Path) -> dict[str, str]:
    """The environment of a command run as after `pip install .`: Python's bytecode cached (in
    `tmp`, so that an editable install's sources stay untouched) and the policy cache warm."""
    env = {
        **os.environ,
        "SMRULES_CACHE_DIR": str(tmp / "cache"),
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bench_cli(tmp: Path) -> None:
    """`smrules check --text` as a user runs it: a new process each time, the policy cache warm.

    Measured twice: with Python's bytecode cache (kept in a temporary directory), as after
    `pip install .`, which compiles every module; and with `PYTHONDONTWRITEBYTECODE=1`, where an
    editable install that never wrote its `.pyc` files compiles smrules' sources on every run.
    """
    compiled = _installed_env(tmp)
    sources = {**compiled, "PYTHONDONTWRITEBYTECODE": "1"}
    sources.pop("PYTHONPYCACHEPREFIX")
    cmd = ["smrules", "check", "--text", "Our Q3 revenue beat expectations, more soon!"]
    subprocess.run(cmd, env=compiled, capture_output=True, cwd=tmp)  # warms both caches
    times: dict[str, list[float]] = {"bytecode": [], "sources": []}
    for _ in range(5):
        for name, env in (("bytecode", compiled), ("sources", sources)):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, cwd=tmp)
            times[name].append(time.perf_counter() - t)
    start = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=compiled, capture_output=True)
        start.append(time.perf_counter() - t)
    print(
        f"[cli] smrules check --text: median of 5 {statistics.median(times['bytecode']) * 1e3:.0f}"
        f" ms with bytecode (target < 500 ms); "
        f"{statistics.median(times['sources']) * 1e3:.0f} ms compiling sources each run; "
        f"Python alone ({sys.executable} -c pass) {statistics.median(start) * 1e3:.0f} ms"
    )


def bench_batch(tmp: Path, n: int = 100_000, rounds: int = 3) -> None:
    """`smrules check --output jsonl` on `n` activities, as installed (see `_installed_env`),
    against `evaluate_many` in this process, and with `--jobs 2` against one process."""
    acts = _workload(n)
    path = tmp / "acts.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for a in acts:
            handle.write(json.dumps(a) + "\n")
    policy_dir = shared_bench_dir(None) / "policy"
    policy = smrules.load(policy_dir, cache=False)
    env = _installed_env(tmp)

    def cli_rate(jobs: int, activities: Path = path) -> float:
        t = time.perf_counter()
        proc = subprocess.run(
            [
                "smrules",
                "check",
                "--policy",
                str(policy_dir),
                "--output",
                "jsonl",
                "--jobs",
                str(jobs),
                str(activities),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if proc.returncode not in (0, 1):
            print(proc.stderr.decode()[:500])
        return n / (time.perf_counter() - t)

    # One short run first, which fills the bytecode and policy caches, as an installed
    # smrules has them.
    first = tmp / "first.jsonl"
    first.write_text(json.dumps(acts[0]) + "\n", encoding="utf-8")
    cli_rate(2, first)

    # The three runs take turns, round after round, so that a drift in the machine's speed
    # touches all of them; each ratio is taken within its round.
    streamed, parallel = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in policy.evaluate_many(iter(acts)):
            pass
        inproc = n / (time.perf_counter() - t)
        one, two = cli_rate(1), cli_rate(2)
        streamed.append(one / inproc)
        parallel.append(two / one)
        print(
            f"[batch] round: in-process {inproc:.0f}/s; CLI jsonl {one:.0f}/s "
            f"({one / inproc:.2f}); --jobs 2 {two:.0f}/s ({two / one:.2f}x)"
        )
    print(
        f"[batch] median of {rounds} rounds: CLI jsonl {statistics.median(streamed):.2f} of "
        f"in-process (range {min(streamed):.2f} to {max(streamed):.2f}, target >= 0.7); "
        f"--jobs 2 {statistics.median(parallel):.2f}x (range {min(parallel):.2f} to "
        f"{max(parallel):.2f}, target >= 1.7)"
    )


def bench_stages(tmp: Path, n: int = 50_000, rounds: int = 3) -> None:
    """What each step of a JSON-lines batch costs, in this process: the rate of
    `evaluate_many` over parsed activities, then of deciding each line's bytes as it is
    parsed by orjson alone, by smrules' strict reader, with the findings' evidence, and with
    the decision written as JSON, each as a share of the first: the ceiling of
    `smrules check --output jsonl`, which also starts a process and reads and writes files."""
    from smrules.commands.check import BATCH_GC_THRESHOLD
    from smrules.yamlio import json_fast_bytes

    acts = _workload(n)
    lines = [json.dumps(a).encode() for a in acts]
    policy = smrules.load(shared_bench_dir(None) / "policy", cache=False)
    evaluate = policy.evaluate

    def reference(part: slice) -> None:
        for _ in policy.evaluate_many(iter(acts[part])):
            pass

    def orjson_only(part: slice) -> None:
        for line in lines[part]:
            evaluate(orjson.loads(line))

    def strict(part: slice) -> None:
        for line in lines[part]:
            evaluate(json_fast_bytes(line))

    def evidence(part: slice) -> None:
        for line in lines[part]:
            for finding in evaluate(json_fast_bytes(line)).findings:
                finding.evidence  # noqa: B018 - computed on first access

    def written(part: slice) -> None:
        for line in lines[part]:
            evaluate(json_fast_bytes(line)).to_json()

    stages = {
        "parsed (evaluate_many)": reference,
        "+ orjson": orjson_only,
        "+ strict JSON": strict,
        "+ evidence": evidence,
        "+ decision JSON": written,
    }
    step = 2_000  # the stages take turns on each slice, so a drift touches them all alike
    parts = [slice(i, i + step) for i in range(0, n, step)]
    shares: dict[str, list[float]] = {name: [] for name in stages}
    default_gc = gc.get_threshold()
    batch_gc = (BATCH_GC_THRESHOLD, *default_gc[1:])
    for _ in range(rounds):
        times = dict.fromkeys(stages, 0.0)
        for part in parts:
            for name, run in stages.items():
                # As in `batch`: the command collects garbage as a batch does, the program
                # calling `evaluate_many` as Python does by default.
                gc.set_threshold(*(default_gc if run is reference else batch_gc))
                t = time.perf_counter()
                run(part)
                times[name] += time.perf_counter() - t
        gc.set_threshold(*default_gc)
        for name in stages:
            shares[name].append(times["parsed (evaluate_many)"] / times[name])
    print(
        f"[stages] rate as a share of evaluate_many over parsed activities (median of {rounds} "
        "rounds): " + "; ".join(f"{name} {statistics.median(v):.2f}" for name, v in shares.items())
    )


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bench_memory(tmp: Path) -> None:
    """Resident memory added by the compiled policy, RE2's C++ allocations included."""
    large_dir = _write(tmp / "mem", "large.smr", generate_policy(1000))
    code = (
        "import gc,sys,smrules;sys.path.insert(0,{bench!r});import bench_scaling as b;"
        "smrules.load({small!r},cache=False);gc.collect();r0=b._rss();"
        "p=smrules.load({large!r},cache=False);"
        "import smrules.parser;smrules.parser._lark.cache_clear();gc.collect();"
        "print(b._rss()-r0)"
    ).format(bench=str(HERE), small=str(shared_bench_dir(None) / "policy"), large=str(large_dir))
    added = int(subprocess.check_output([sys.executable, "-c", code], text=True))
    print(
        f"[memory] compiled 1000-rule policy adds {added / 2**20:.1f} MiB resident "
        "(target < 50 MiB)"
    )


BENCHES = {
    "rules": bench_rules,
    "lexicon": bench_lexicon,
    "text": bench_text,
    "load": bench_load,
    "cli": bench_cli,
    "batch": bench_batch,
    "stages": bench_stages,
    "memory": bench_memory,
}


def main() -> None:
    which = sys.argv[1:] or ["all"]
    names = list(BENCHES) if "all" in which else which
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            BENCHES[name](Path(tmp))


if __name__ == "__main__":
    main()
