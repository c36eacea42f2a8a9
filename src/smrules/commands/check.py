"""`smrules check`: decide activities from files, standard input or `--text` (SPEC §7).

Each activity is checked by `check_one`, which returns what gets printed (a `Checked`); a
batch checks the lines of a `.jsonl` file a block at a time (`_check_block`), and the same
functions serve one process and `--jobs N` worker processes. Output is written as activities
are decided: `--output jsonl` and text stream in constant memory, and `--output json` streams
a JSON list too.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import click

from ..errors import ActivityError
from ..settings import KINDS
from ._common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    default_policy_path,
    guarded,
    load_policy_or_exit,
    use_color,
)

if TYPE_CHECKING:
    from ..engine import Policy
    from ..inputs import ActivityInput, InputError, LineBlock

ACCOUNT_TYPES = ("corporate", "personal", "brand", "executive", "employee_advocacy", "pseudonymous")
TEXT_LABEL = "--text"
CHUNK = 256  # activities per task in --jobs mode
SERIAL_CHUNK = 128  # activities checked step by step together, when no one waits for each
PROGRESS_AFTER = 0.5  # seconds before a progress line appears
PROGRESS_EVERY = 0.1  # seconds between updates of the progress line
FLUSH_EVERY = 0.2  # seconds between flushes of a large batch's output
FLUSH_SIZE = 1 << 16  # characters of output held at most before writing
BATCH_GC_THRESHOLD = 20_000  # allocations between collections of the youngest generation


# ---------------------------------------------------------------------------- one activity


class Checked(NamedTuple):
    """What checking one activity produced, ready to print (a tuple of plain values: cheap to
    send between processes, on every Python version)."""

    outcome: str  # "deny", "warn", "allow" or "invalid"
    payload: str | None  # the text to print (text or JSON), None when invalid
    problems: tuple[tuple[str, str], ...]  # (path, message) of an invalid activity


class DecidedRun(NamedTuple):
    """JSON lines of activities that were all decided, together: the lines as one text, and
    each activity's outcome (far cheaper to send and write than one by one)."""

    text: str
    outcomes: tuple[str, ...]


class Options(NamedTuple):
    """How to check and print every activity of a run."""

    now: dt.datetime | None
    explain: bool
    style: str  # "text", "jsonl", "json" (one object) or "json-item" (in a list)
    color: bool


def check_one(policy: Policy, value: object, options: Options, label: str | None) -> Checked:
    """Decide (or explain) one activity and render it as `options.style` asks."""
    return render_one(decide_one(policy, value, options), value, options, label)


def decide_one(policy: Policy, value: object, options: Options):  # noqa: ANN201
    """The decision, or the explanation with `--explain`, or `Checked` for an invalid one."""
    try:
        if options.explain:
            return policy.explain(value, options.now)  # type: ignore[arg-type]
        return policy.evaluate(value, options.now)  # type: ignore[arg-type]
    except ActivityError as err:
        return Checked("invalid", None, tuple((p.path, p.message) for p in err.problems))


def render_one(outcome, value: object, options: Options, label: str | None) -> Checked:
    """What `decide_one` gave, as `options.style` asks."""
    if isinstance(outcome, Checked):
        return outcome
    if options.explain:
        explanation, decision = outcome, outcome.decision
    else:
        explanation, decision = None, outcome
    if options.style == "text":
        from ..render import render_decision, render_explanation

        text = render_decision(decision, activity=value, label=label, color=options.color)
        if explanation is not None:
            text += "\n" + render_explanation(explanation, options.color)
        return Checked(decision.decision, text, ())
    if explanation is None and options.style == "jsonl":
        return Checked(decision.decision, decision.to_json(), ())
    record = explanation.to_dict() if explanation is not None else decision.to_dict()
    return Checked(decision.decision, json_text(record, options.style), ())


def json_text(record: object, style: str) -> str:
    """Compact for JSON lines; indented for `--output json`, a list's items one level more."""
    if style == "jsonl":
        return json.dumps(record, ensure_ascii=False)
    text = json.dumps(record, ensure_ascii=False, indent=2)
    return text if style == "json" else "  " + text.replace("\n", "\n  ")


# ---------------------------------------------------------------------------- options


def _text_activity(
    text: str,
    kind: str | None,
    platform: str | None,
    department: str | None,
    roles: tuple[str, ...],
    account: str | None,
) -> dict:
    """The activity `--text` stands for (SPEC §7)."""
    actor: dict[str, object] = {"id": "cli"}
    if department:
        actor["department"] = department
    if roles:
        actor["roles"] = list(roles)
    activity: dict[str, object] = {
        "actor": actor,
        "kind": kind or "post",
        "account": {"type": account or "personal"},
        "audience": "public",
        "content": {"text": text},
    }
    if platform:
        activity["platform"] = platform
    return activity


_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"([Zz]|[+-]\d{2}:\d{2})?\Z"
)


def parse_now(text: str) -> tuple[dt.datetime, bool]:
    """`--now`: an RFC 3339 instant; (datetime, has_offset). Without an offset (or a bare date,
    meaning midnight) it is read in the policy's timezone once the policy is loaded."""
    m = _INSTANT.match(text.strip())
    if m is None:
        raise ValueError(text)
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    value = dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "0").ljust(6, "0")),
    )
    if offset is None:
        return value, False
    if offset in ("Z", "z"):
        return value.replace(tzinfo=dt.timezone.utc), True
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return value.replace(tzinfo=dt.timezone(sign * delta)), True


def _now_option(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        return parse_now(value)
    except ValueError:
        raise click.BadParameter(
            f"`{value}` is not an instant; write it like 2026-11-16T09:00:00Z or "
            "2026-11-16T10:00:00+01:00",
            ctx,
            param,
        ) from None


# ---------------------------------------------------------------------------- output


class Progress:
    """`checked 12,345 activities` on stderr, only on a terminal and only for long runs."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def tick(self, count: int, invalid: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER or now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        rate = count / max(now - self.started, 1e-9)
        extra = f", {invalid:,} invalid" if invalid else ""
        sys.stderr.write(f"\r\x1b[Kchecked {count:,} activities{extra} ({rate:,.0f}/s)")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


class Writer:
    """Prints results as they come: decisions on stdout, located problems on stderr.

    Output is flushed after each activity when someone may be waiting for it (a terminal, or
    a program feeding standard input one activity at a time), else at most every FLUSH_EVERY
    seconds: flushing each line of a large batch would cost more than deciding it.
    """

    def __init__(self, style: str, single: bool, color: bool, eager: bool) -> None:
        self.style = style
        self.single = single
        self.color = color
        self.err_color = use_color(sys.stderr)
        self.eager = eager
        self.progress = Progress(_isatty(sys.stderr) and not _isatty(sys.stdout))
        self.count = 0
        self.pending: list[str] = []
        self.pending_size = 0
        self.flushed = time.monotonic()

    def _write(self, text: str) -> None:
        # Kept here rather than in stdout's own buffer, which may be off (PYTHONUNBUFFERED).
        self.pending.append(text)
        self.pending_size += len(text)
        now = time.monotonic()
        if self.eager or self.pending_size > FLUSH_SIZE or now - self.flushed > FLUSH_EVERY:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.pending:
            self.progress.clear()
            sys.stdout.write("".join(self.pending))
            self.pending.clear()
            self.pending_size = 0
        sys.stdout.flush()
        self.flushed = time.monotonic() if now is None else now

    def start(self) -> None:
        if self.style == "json-item":
            self._write("[")

    def _item(self, text: str) -> None:
        if self.style == "json-item":
            self._write(("\n" if self.count == 0 else ",\n") + text)
        elif self.style == "text" and self.count:
            self._write("\n" + text + "\n")
        else:
            self._write(text + "\n")
        self.count += 1

    def decided(self, checked: Checked) -> None:
        self._item(checked.payload or "")

    def decided_run(self, run: DecidedRun) -> None:
        """JSON lines decided together, as one text."""
        self._write(run.text)
        self.count += len(run.outcomes)

    def invalid(self, record: dict, problems, label: str) -> None:
        from ..render import render_problems

        self.flush()  # keep stdout and stderr in order on a terminal
        self.progress.clear()
        sys.stderr.write(render_problems(problems, self.err_color) + "\n")
        sys.stderr.flush()
        if self.style != "text":
            self._item(json_text(record, self.style))
        elif not self.single:
            head = click.style("invalid", fg="magenta", bold=True) if self.color else "invalid"
            lines = [f"{head}  {label}"]
            for problem in record["problems"]:
                where = f"{problem['path']}: " if problem["path"] else ""
                lines.append(f"  {where}{problem['message']}")
            self._item("\n".join(lines))

    def salvage(self) -> None:
        """After an interruption: print the decisions made so far, if output still works."""
        if self.pending:
            try:
                self.flush()
            except (OSError, ValueError):
                self.pending.clear()
        self.progress.clear()

    def finish(self, tally) -> None:
        if self.style == "json-item":
            self._write("\n]\n" if self.count else "]\n")
        elif self.style == "text" and not self.single:
            from ..render import render_summary

            self._write(("\n" if self.count else "") + render_summary(tally, self.color) + "\n")
        self.flush()


# ---------------------------------------------------------------------------- running


def _label(item: ActivityInput) -> str:
    return TEXT_LABEL if item.file == TEXT_LABEL else item.where


def _results(
    policy: Policy,
    policy_path: str,
    items: Iterable[ActivityInput | InputError | LineBlock],
    options: Options,
    jobs: int,
    eager: bool,
) -> Iterator[tuple[ActivityInput | InputError, Checked | None]]:
    """Each input in order with its result (None for an input error). `eager`: each result
    as soon as it is made, else a block of JSON lines or a chunk of SERIAL_CHUNK activities
    (CHUNK for each worker) at a time."""

    if jobs > 1:
        yield from _parallel(policy, policy_path, items, options, jobs)
        return
    if eager:  # someone waits for each answer
        yield from _one_at_a_time(policy, items, options)
        return
    from ..inputs import LineBlock

    chunk: list = []
    for item in items:
        if isinstance(item, LineBlock):
            yield from _runs(_check_chunk(policy, chunk, options), options)
            chunk = []
            yield from _check_block(policy, item, options)
            continue
        chunk.append(item)
        if len(chunk) >= SERIAL_CHUNK:
            yield from _runs(_check_chunk(policy, chunk, options), options)
            chunk = []
    yield from _runs(_check_chunk(policy, chunk, options), options)


def _runs(checks: list | Iterator, options: Options) -> Iterable:
    """A chunk's results; JSON lines that were all decided as one `DecidedRun`."""
    run = _as_run(checks, options) if isinstance(checks, list) else None
    return checks if run is None else [(run, None)]


def _as_run(checks: list, options: Options) -> DecidedRun | None:
    """One text and the outcomes of a chunk's JSON lines, when every activity was decided."""
    if options.style != "jsonl" or not checks:
        return None
    payloads = []
    for _, checked in checks:
        if checked is None or checked.payload is None:
            return None
        payloads.append(checked.payload)
    return _decided_run(payloads, [checked.outcome for _, checked in checks])


def _check_block(policy: Policy, block: LineBlock, options: Options) -> list | Iterator:
    """The lines of a block, checked: runs of lines that were decided as `DecidedRun`s, any
    other line with its input, as `_check_chunk` gives them.

    For JSON-lines output each line that reads as JSON is decided and written on the spot,
    with no input or result objects made for it, which saves a batch a few percent. A line that
    is anything else (blank, not strict JSON at once, an invalid activity, overlong) is read
    again the general way, `LineBlock.items`, so it gives exactly what reading the lines one
    by one gives. After an internal error the block is checked again one line at a time.
    """
    from ..inputs import MAX_LINE_BYTES, LineBlock
    from ..yamlio import UNREAD, json_fast_bytes

    if options.style != "jsonl" or options.explain:
        return _runs(_check_chunk(policy, list(block.items()), options), options)
    results: list = []
    payloads: list[str] = []
    outcomes: list[str] = []
    evaluate, now = policy.evaluate, options.now
    try:
        pieces = block.data.split(b"\n")
        if not pieces[-1]:  # the end of the block's last line
            pieces.pop()
        for number, piece in enumerate(pieces, block.line):
            # As `_stream` reads it: a line starting with printable ASCII, not overlong (a
            # `\r` before the line end is JSON white space).
            if piece and 0x20 < piece[0] < 0x7F and len(piece) <= MAX_LINE_BYTES:
                value = json_fast_bytes(piece)
                if value is not UNREAD:
                    try:
                        decision = evaluate(value, now)
                    except ActivityError:
                        pass  # found again below, with the input that locates its problems
                    else:
                        payloads.append(decision.to_json())
                        outcomes.append(decision.decision)
                        continue
            elif not piece:
                continue
            if payloads:
                results.append((_decided_run(payloads, outcomes), None))
                payloads, outcomes = [], []
            line = LineBlock(block.file, number, piece + b"\n")
            results += _check_chunk(policy, list(line.items()), options)
    except Exception:
        return _one_at_a_time(policy, block.items(), options)
    if payloads:
        results.append((_decided_run(payloads, outcomes), None))
    return results


def _decided_run(payloads: list[str], outcomes: list[str]) -> DecidedRun:
    """JSON lines as one text, each with its line end, and their outcomes."""
    payloads.append("")
    return DecidedRun("\n".join(payloads), tuple(outcomes))


def _check_chunk(
    policy: Policy, chunk: list, options: Options, labels: list[str | None] | None = None
) -> list[tuple[ActivityInput | InputError, Checked | None]] | Iterator:
    """A chunk in steps: parse every line, decide every activity, then render every decision.

    The same work as one activity at a time, but each step's code stays warm in the processor's
    caches, which makes a long batch noticeably faster. After an internal error the chunk is
    checked again one at a time (an iterator, not a list), so that the answers before the
    error are printed before it stops the run.
    """
    from ..inputs import InputError, LineInput

    try:
        parsed = [item.parse() if isinstance(item, LineInput) else item for item in chunk]
        decided = [
            None if isinstance(item, InputError) else decide_one(policy, item.value, options)
            for item in parsed
        ]
        labelled = options.style == "text"  # only text output shows where an activity is
        return [
            (item, None)
            if outcome is None
            else (
                item,
                render_one(
                    outcome,
                    item.value,
                    options,
                    _label_at(labels, index, item) if labelled else None,
                ),
            )
            for index, (item, outcome) in enumerate(zip(parsed, decided, strict=True))
        ]
    except Exception:
        return _one_at_a_time(policy, chunk, options, labels)


def _one_at_a_time(
    policy: Policy, items: Iterable, options: Options, labels: list[str | None] | None = None
) -> Iterator[tuple[ActivityInput | InputError, Checked | None]]:
    """Parse (a stream line), decide and render each input before taking the next."""
    from ..inputs import InputError, LineInput

    for index, item in enumerate(items):
        if isinstance(item, LineInput):
            item = item.parse()
        if isinstance(item, InputError):
            yield item, None
        else:
            label = _label_at(labels, index, item)
            yield item, check_one(policy, item.value, options, label)  # type: ignore


def _label_at(labels: list[str | None] | None, index: int, item) -> str:
    """The label a worker was given for an activity, else the input's own."""
    given = labels[index] if labels else None
    return given if given else _label(item)


# Worker processes: the policy is inherited when processes fork, else loaded once per worker.
_WORKER: dict[str, object] = {}


def _batch_gc() -> tuple[int, ...]:
    """Collect the youngest generation of objects less often during a batch; returns the
    thresholds to restore.

    Checking an activity allocates hundreds of short-lived containers, almost none in
    reference cycles; at Python's default threshold (700 allocations) a collection runs every
    few activities, which costs a batch about a tenth of its time. Cycles are still collected.
    """
    before = gc.get_threshold()
    young, *older = before
    if young:  # 0: collection is off, and stays off
        gc.set_threshold(max(young, BATCH_GC_THRESHOLD), *older)
    return before


def _worker_init(policy_path: str, options: Options) -> None:
    _batch_gc()
    if _WORKER.get("path") != policy_path or "policy" not in _WORKER:
        from ..api import load

        _WORKER["policy"] = load(policy_path)
        _WORKER["path"] = policy_path
    _WORKER["options"] = options


def _worker_block(file: str, line: int, data: bytes) -> list:
    """Check a block of stream lines, split and parsed here (see `_check_block`).

    Results are cheap to send back: a `DecidedRun`, or for a line not decided at once a plain
    tuple (outcome, payload, problems, item), where `item` is the input of an invalid line or
    the input error (the parent needs it to locate the problems), else None; an input error
    has outcome None.
    """
    from ..inputs import LineBlock

    policy, options = _WORKER["policy"], _WORKER["options"]
    out: list = []
    for item, checked in _check_block(policy, LineBlock(file, line, data), options):
        if isinstance(item, DecidedRun):
            out.append(item)
        elif checked is None:  # an input error
            out.append((None, None, (), item))
        else:
            out.append((*checked, item if checked.outcome == "invalid" else None))
    return out


def _worker_values(batch: list[tuple[object, str]], as_run: bool) -> list:
    """Check activities the parent read, each with its label, in steps as `_check_chunk` does:
    (outcome, payload, problems, None) for each, or with `as_run` one `DecidedRun` when every
    one was decided."""
    from ..inputs import ActivityInput

    policy, options = _WORKER["policy"], _WORKER["options"]
    items = [ActivityInput(value, "", 0, 0, "document", (), None) for value, _ in batch]
    labels: list[str | None] = [label for _, label in batch]
    checks = list(_check_chunk(policy, items, options, labels))
    run = _as_run(checks, options) if as_run else None
    if run is not None:  # the common batch: one text for the parent to write, and the outcomes
        return [run]
    return [(*checked, None) for _, checked in checks]


def _pool_context():
    """Fork where it is safe (Linux, one thread): workers then inherit the loaded policy.
    Elsewhere spawn, and each worker loads the policy once."""
    import multiprocessing
    import threading

    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _parallel(
    policy: Policy,
    policy_path: str,
    items: Iterable[ActivityInput | InputError],
    options: Options,
    jobs: int,
) -> Iterator[tuple[ActivityInput | InputError, Checked | None]]:
    """Check batches in `jobs` processes, keeping input order and a bounded number in flight."""
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    from ..inputs import ActivityInput, LineBlock

    context = _pool_context()
    if context.get_start_method() == "fork":
        policy.generate_code()  # once, here: forked workers inherit it
    _WORKER.update(policy=policy, path=policy_path, options=options)
    pending: deque[tuple[list, Future]] = deque()
    pool = ProcessPoolExecutor(
        jobs, context, initializer=_worker_init, initargs=(policy_path, options)
    )
    with pool:

        def submit_activities(batch: list) -> None:
            work = [(item.value, _label(item)) for item in batch if isinstance(item, ActivityInput)]
            # A run of lines is one text only when no input error sits between them.
            future = pool.submit(_worker_values, work, len(work) == len(batch))
            pending.append((batch, future))

        def oldest() -> Iterator[tuple[ActivityInput | InputError | DecidedRun, Checked | None]]:
            batch, future = pending.popleft()
            done = future.result()
            if isinstance(batch[0], LineBlock) or (done and isinstance(done[0], DecidedRun)):
                for result in done:  # runs, and the other lines each with its input
                    if isinstance(result, DecidedRun):
                        yield result, None
                    else:
                        outcome, payload, problems, item = result
                        checked = None if outcome is None else Checked(outcome, payload, problems)
                        yield item, checked
                return
            results = iter(done)
            for item in batch:
                if isinstance(item, ActivityInput):
                    outcome, payload, problems, _ = next(results)
                    yield item, Checked(outcome, payload, problems)
                else:
                    yield item, None

        batch: list = []
        for item in items:
            if isinstance(item, LineBlock):  # a task of its own: the worker splits it
                if batch:
                    submit_activities(batch)
                    batch = []
                future = pool.submit(_worker_block, item.file, item.line, item.data)
                pending.append(([item], future))
            else:
                batch.append(item)
                if len(batch) < CHUNK:
                    continue
                submit_activities(batch)
                batch = []
            while len(pending) > 2 * jobs:
                yield from oldest()
        if batch:
            submit_activities(batch)
        while pending:
            yield from oldest()


def _exit_code(outcome: str, fail_on_warn: bool) -> int:
    if outcome == "invalid":
        return EXIT_INVALID
    if outcome == "deny" or (outcome == "warn" and fail_on_warn):
        return EXIT_FAILED
    return EXIT_OK


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("activities", nargs=-1, metavar="[ACTIVITY]...")
@click.option(
    "--policy",
    "-p",
    "policy_path",
    metavar="PATH",
    help="Policy directory or .smr file.  "
    "[default: ./policies if present, else the bundled policy]",
)
@click.option(
    "--now",
    metavar="INSTANT",
    callback=_now_option,
    help="Effective time of activities without `time`, e.g. 2026-11-16T09:00:00Z "
    "(without an offset: in the policy's timezone).  [default: the system clock]",
)
@click.option("--text", metavar="TEXT", help="Check this draft text instead of activity files.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    metavar="KIND",
    help=f"With --text: the activity's kind, one of {', '.join(KINDS)}.  [default: post]",
)
@click.option("--platform", metavar="NAME", help="With --text: the platform (linkedin, x, ...).")
@click.option("--department", metavar="NAME", help="With --text: the actor's department.")
@click.option(
    "--role",
    "roles",
    metavar="ROLE",
    multiple=True,
    help="With --text: an actor role; repeat for several.",
)
@click.option(
    "--account",
    type=click.Choice(ACCOUNT_TYPES),
    metavar="TYPE",
    help=f"With --text: the account type, one of {', '.join(ACCOUNT_TYPES)}.  [default: personal]",
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json", "jsonl"]),
    default="text",
    show_default=True,
    help="text for people; json: one object for one activity, a list for several; "
    "jsonl: one decision per line, as each is made.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="For every rule: whether it fired, else which `when` or `unless` stopped it, "
    "with the values it saw.",
)
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 when a decision is `warn`.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    default=1,
    show_default=True,
    help="Worker processes for large batches; output keeps the input order.",
)
@guarded
def command(
    activities: tuple[str, ...],
    policy_path: str | None,
    now: tuple[dt.datetime, bool] | None,
    text: str | None,
    kind: str | None,
    platform: str | None,
    department: str | None,
    roles: tuple[str, ...],
    account: str | None,
    output: str,
    explain: bool,
    fail_on_warn: bool,
    jobs: int,
) -> None:
    """Check activities against a policy and print the decisions.

    ACTIVITY is a YAML or JSON file holding one activity or a list of them, a JSON-lines file
    (.jsonl, read as a stream), or - for standard input.

    \b
    Examples:
      smrules check draft.yaml
      smrules check --text "Our Q3 revenue beat expectations!" --platform linkedin
      smrules check --output jsonl --jobs 4 activities.jsonl > decisions.jsonl
      cat draft.json | smrules check - --explain

    \b
    Exit codes: 0 allowed (or warned, unless --fail-on-warn), 1 denied,
    2 wrong usage, 3 an invalid policy or activity. With several activities,
    the highest that applies: 3, then 1, then 0.
    """
    text_only = {
        "--kind": kind,
        "--platform": platform,
        "--department": department,
        "--role": roles,
        "--account": account,
    }
    if text is None:
        given = [name for name, value in text_only.items() if value]
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply together with --text")
        if not activities:
            raise click.UsageError(
                "nothing to check: give ACTIVITY files, `-` for standard input, or --text"
            )
    elif activities:
        raise click.UsageError("give either --text or ACTIVITY files, not both")
    if activities.count("-") > 1:
        raise click.UsageError("standard input (`-`) can be read only once")

    path = policy_path if policy_path is not None else str(default_policy_path())
    policy = load_policy_or_exit(path)
    effective_now = None
    if now is not None:
        value, has_offset = now
        effective_now = value if has_offset else _localize(value, policy.settings.tz)

    from ..inputs import ActivityInput, Source, read_inputs
    from ..render import Tally

    items: Iterable[ActivityInput | InputError | LineBlock]
    eager = text is not None or "-" in activities or _isatty(sys.stdout)
    if text is not None:
        value = _text_activity(text, kind, platform, department, roles, account)
        source = Source(TEXT_LABEL, json.dumps(value, ensure_ascii=False))
        items = [ActivityInput(value, TEXT_LABEL, 1, 1, "document", (), source)]
        single = True
    else:
        deferred = read_inputs(activities, blocks=not eager)
        items, single = _peek_single(deferred, len(activities))
    color = use_color(sys.stdout) and output == "text"
    style = "json" if output == "json" and single else "json-item" if output == "json" else output
    writer = Writer(style, single, color, eager)
    tally = Tally()
    exit_code = EXIT_OK
    writer.start()
    options = Options(effective_now, explain, style, color)
    collecting = _batch_gc() if not eager else None
    try:
        index = 0  # of the next activity in the input
        for item, checked in _results(policy, path, items, options, jobs, eager):
            if isinstance(item, DecidedRun):
                writer.decided_run(item)
                tally.add_all(item.outcomes)
                for outcome in set(item.outcomes):
                    exit_code = max(exit_code, _exit_code(outcome, fail_on_warn))
                index += len(item.outcomes)
            elif checked is None or checked.outcome == "invalid":
                record, problems, label = _invalid(item, checked, index)
                writer.invalid(record, problems, label)
                tally.add("invalid")
                exit_code = max(exit_code, EXIT_INVALID)
                index += 1
            else:
                writer.decided(checked)
                tally.add(checked.outcome)
                exit_code = max(exit_code, _exit_code(checked.outcome, fail_on_warn))
                index += 1
            if writer.progress.enabled:
                writer.progress.tick(tally.total, tally.counts.get("invalid", 0))
        writer.finish(tally)
    finally:
        writer.salvage()
        if collecting is not None:
            gc.set_threshold(*collecting)
    raise SystemExit(exit_code)


def _invalid(item, checked: Checked | None, index: int):
    """The error record, located problems and label of an invalid activity or input error."""
    from ..errors import ActivityError, Problem

    if checked is None:  # an InputError: the file or line holds no activity
        message = item.message
        record = {"index": index, "error": message, "problems": [{"path": "", "message": message}]}
        span = item.diagnostic.span
        return record, item.problems(), f"{span.file}:{span.line}" if span else message
    error = ActivityError([Problem(p, m) for p, m in checked.problems], index=index)
    return error.to_record(), item.problems(error), _label(item)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _localize(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return value.replace(tzinfo=tz)


def _peek_single(items: Iterator, names: int) -> tuple[Iterable, bool]:
    """Whether the input is one activity (one file holding one object), and the items again."""
    from itertools import chain

    first = next(items, None)
    if first is None:
        return [], False
    single = names == 1 and first.container == "document"
    return chain([first], items), single
