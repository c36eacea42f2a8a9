"""Compiled policies and their evaluation (SPEC §2.5, §2.7, §5).

`build_policy(program)` compiles every rule once; `Policy.evaluate(activity)` prepares the
activity, runs the rules, and combines their findings into a `Decision`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from . import nodes as n
from .compiler import CompileFailed, Env, ExprCompiler, Fn
from .decision import (
    Decision,
    Evidence,
    Finding,
    PolicyRef,
    RuleError,
    SourceRef,
    Waived,
    new_decision,
    new_evidence,
    new_finding,
)
from .errors import ActivityError, Diagnostic, PolicyError, Span
from .loader import Program
from .runtime import Ctx
from .scope import build_scopes
from .settings import Settings, resolve_settings
from .values import TOO_DEEP, EvalError, date_start, type_name

if TYPE_CHECKING:
    from .activity import Limits
    from .codegen import Block, BlockResult

DEFAULT_MESSAGE = "No rule allows this activity"
WARM_UP_DECISIONS = 16  # decisions a group of rules makes with closures before its code is made


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule's identity and metadata, as `GET /v1/policy` and the docs show it."""

    id: str
    effect: str
    title: str | None
    description: str | None
    risk: str | None
    severity: str | None
    ref: str | None
    owner: str | None
    tags: tuple[str, ...]
    mode: str
    waivable: bool
    source: SourceRef

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "effect": self.effect,
            "title": self.title,
            "description": self.description,
            "risk": self.risk,
            "severity": self.severity,
            "ref": self.ref,
            "owner": self.owner,
            "tags": list(self.tags),
            "mode": self.mode,
            "waivable": self.waivable,
            "source": self.source.to_dict(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    info: RuleInfo
    node: n.Rule
    whens: tuple[Fn, ...]
    unlesses: tuple[Fn, ...]
    message: Callable[[Ctx], str | None]
    hint: Callable[[Ctx], str | None]
    waivers: tuple[CompiledWaiver, ...]
    test: Callable[[Ctx], bool]  # all whens hold and no unless: the hot path of `run_rule`
    # The `when`s that may record evidence (the others record none: not re-run for it)
    evidence_whens: tuple[Fn, ...] = ()

    @property
    def id(self) -> str:
        return self.info.id


@dataclass(frozen=True, slots=True)
class CompiledWaiver:
    actors: frozenset[str] | None
    departments: frozenset[str] | None
    ends: dt.datetime  # midnight after `until`, policy timezone: `until` is inclusive
    waived: Waived

    def covers(self, act: Mapping[str, object], time: dt.datetime) -> bool:
        if time >= self.ends:
            return False
        actor = act.get("actor")
        if not isinstance(actor, dict):
            return False
        if self.actors is not None:
            return actor.get("id") in self.actors
        return self.departments is not None and actor.get("department") in self.departments


class _Outcome:
    __slots__ = ("status", "index", "error")

    def __init__(self, status: str, index: int = -1, error: EvalError | None = None) -> None:
        self.status = status  # "fired", "when", "unless", "error"
        self.index = index  # which when/unless decided
        self.error = error


def condition_error(kind: str, value: object, span: Span) -> EvalError:
    return EvalError(f"a `{kind}` condition must be true or false, got {type_name(value)}", span)


def make_test(
    rule: n.Rule, whens: tuple[Fn, ...], unlesses: tuple[Fn, ...], strict: bool = False
) -> Callable[[Ctx], bool]:
    """`run_rule` without the bookkeeping: whether the rule fires (raises EvalError).

    `strict`: every condition always yields true or false, so they combine with plain Python
    `and`/`not` (same order, same short-circuit) and need no per-value type checks.
    """
    if strict and 1 <= len(whens) <= 3 and len(unlesses) <= 1:
        return _strict_test(whens, unlesses)
    when_pairs = tuple(zip(whens, [w.span for w in rule.whens], strict=True))
    unless_pairs = tuple(zip(unlesses, [u.span for u in rule.unlesses], strict=True))
    if len(whens) == 1 and not unlesses:
        ((only, span),) = when_pairs

        def test_one(c: Ctx) -> bool:
            v = only(c)
            if v is True:
                return True
            if v is False or v is None:
                return False
            raise condition_error("when", v, span)

        return test_one

    def test(c: Ctx) -> bool:
        for cond, span in when_pairs:
            v = cond(c)
            if v is not True:
                if v is False or v is None:
                    return False
                raise condition_error("when", v, span)
        for cond, span in unless_pairs:
            v = cond(c)
            if v is True:
                return False
            if v is not False and v is not None:
                raise condition_error("unless", v, span)
        return True

    return test


def _strict_test(whens: tuple[Fn, ...], unlesses: tuple[Fn, ...]) -> Callable[[Ctx], bool]:
    w = whens + (None,) * (3 - len(whens))
    w0, w1, w2 = w
    if unlesses:
        (u0,) = unlesses
        if w1 is None:
            return lambda c: w0(c) and not u0(c)
        if w2 is None:
            return lambda c: w0(c) and w1(c) and not u0(c)
        return lambda c: w0(c) and w1(c) and w2(c) and not u0(c)
    if w1 is None:
        return w0
    if w2 is None:
        return lambda c: w0(c) and w1(c)
    return lambda c: w0(c) and w1(c) and w2(c)


def run_rule(rule: CompiledRule, c: Ctx) -> _Outcome:
    """Evaluate one rule in source order (SPEC §2.7)."""
    for i, cond in enumerate(rule.whens):
        v = cond(c)
        if v is not True:
            if v is False or v is None:
                return _Outcome("when", i)
            raise condition_error("when", v, rule.node.whens[i].span)
    for i, cond in enumerate(rule.unlesses):
        v = cond(c)
        if v is True:
            return _Outcome("unless", i)
        if v is not False and v is not None:
            raise condition_error("unless", v, rule.node.unlesses[i].span)
    return _Outcome("fired")


class Policy:
    """A compiled policy. Its answers never change after loading (its rules only switch from
    closures to generated code, which decides the same); `evaluate` is safe from many threads."""

    def __init__(
        self,
        program: Program,
        settings: Settings,
        rules: tuple[CompiledRule, ...],
        compiler: ExprCompiler,
        guards: list | None = None,
    ) -> None:
        from .guards import GuardIndex

        self.program = program
        self.settings = settings
        self.rules_compiled = rules
        self.compiler = compiler
        self.name = settings.name
        self.version = settings.version
        self.title = settings.title
        self.digest = program.digest
        self.ref = PolicyRef(settings.name, settings.version, program.digest)
        self.rules: tuple[RuleInfo, ...] = tuple(r.info for r in rules)
        self._tz = settings.tz
        self._index = GuardIndex(guards) if guards is not None else None
        groups = self._index.groups if self._index is not None else [tuple(range(len(rules)))]
        # Each group of rules starts as a loop over the rules' closures and becomes generated
        # code once it has decided WARM_UP_DECISIONS activities: a one-off check never pays
        # for generating code, a batch or a service soon runs at full speed.
        self._groups = [[(i, rules[i]) for i in g] for g in groups]
        self._blocks = [closure_block(g) for g in self._groups]
        self._cold = [WARM_UP_DECISIONS] * len(groups)

    def __repr__(self) -> str:
        return (
            f"<Policy {self.name} {self.version or ''} {len(self.rules)} rules {self.digest[:15]}>"
        )

    # ------------------------------------------------------------ evaluation
    def prepare(
        self, activity: object, now: dt.datetime | None = None, limits: Limits | None = None
    ) -> dict:
        """Validate an activity and fill its derived fields (raises ActivityError).

        `limits` (a `smrules.activity.Limits`) bounds text size, nesting and list lengths;
        the default is 1 MiB per string, depth 32 and 10,000 items per list.
        """
        if now is not None and (not isinstance(now, dt.datetime) or now.tzinfo is None):
            raise TypeError("`now` must be a timezone-aware datetime")
        activity_module = _activity_module()
        return activity_module.prepare_activity(
            activity, now, tz=self._tz, limits=limits or activity_module.DEFAULT_LIMITS
        )

    def evaluate(
        self,
        activity: Mapping[str, object],
        now: dt.datetime | None = None,
        *,
        limits: Limits | None = None,
    ) -> Decision:
        """Decide one activity. Raises `ActivityError` when it is invalid or over `limits`."""
        return self._decide(self.prepare(activity, now, limits))

    def explain(self, activity: Mapping[str, object], now: dt.datetime | None = None):
        """Decide one activity and say, for every rule, why it fired or not."""
        from .explain import explain

        return explain(self, activity, now)

    def expression(self, source: str, module: str | None = None):
        """Compile one expression in the scope of a policy file (default: the last one).

        Returns `fn(activity, now=None)` giving the expression's value: for tools, tests and
        the REPL-like `--explain`. Raises `PolicyError` when the expression does not compile.
        """
        from .compiler import CompileFailed
        from .parser import ParseFailed, parse_expression
        from .scope import build_scopes

        scopes = build_scopes(self.program)
        file = module or self.program.modules[-1].file
        try:
            expr = parse_expression(source, "<expression>")
            fn = self.compiler.compile(expr, Env(scopes[file]))
        except ParseFailed as failed:
            raise PolicyError(failed.diagnostics, {"<expression>": source}) from None
        except CompileFailed as failed:
            raise PolicyError([failed.diagnostic], {"<expression>": source}) from None

        def value(activity: Mapping[str, object], now: dt.datetime | None = None) -> object:
            return fn(self._context(self.prepare(activity, now)))

        return value

    def evaluate_many(
        self,
        activities: Iterable[object],
        now: dt.datetime | None = None,
        errors: Literal["yield", "raise"] = "yield",
        *,
        limits: Limits | None = None,
    ) -> Iterator[Decision | ActivityError]:
        """Decide activities lazily, in input order; invalid ones yield an `ActivityError`."""
        if errors not in ("yield", "raise"):
            raise ValueError("errors must be 'yield' or 'raise'")
        for index, activity in enumerate(activities):
            try:
                act = self.prepare(activity, now, limits)
            except ActivityError as err:
                located = err.with_index(index)
                if errors == "raise":
                    raise located from None
                yield located
                continue
            yield self._decide(act)

    def _context(self, act: dict) -> Ctx:
        return Ctx(act, act["time"], self.compiler.n_lets, self.compiler.n_vars)

    def _decide(self, act: dict) -> Decision:
        c = self._context(act)
        cold = self._cold
        if self._index is None:
            if cold[0] > 0:
                self._warm_up(0)
            positions, failed = self._blocks[0](c)
        else:
            positions, failed = [], []
            groups = self._index.candidates(act)
            for group in groups:
                if cold[group] > 0:
                    self._warm_up(group)
                more_fired, more_failed = self._blocks[group](c)
                positions += more_fired
                failed += more_failed
            if len(groups) > 1:  # back to file order
                positions.sort()
                failed.sort(key=_position)
        if not positions and not failed:  # most activities
            return self._combine(c, act, c.time, [], [])
        rules = self.rules_compiled
        fired: list[tuple[CompiledRule, str | None, str | None]] = []
        late = False
        for position in positions:
            rule = rules[position]
            try:
                fired.append((rule, rule.message(c), rule.hint(c)))
            except EvalError as err:
                failed.append((position, err))
                late = True
            except RecursionError:
                failed.append((position, EvalError(TOO_DEEP, rule.node.span)))
                late = True
        if late:
            failed.sort(key=_position)
        errors = [(rules[position], err) for position, err in failed]
        return self._combine(c, act, c.time, fired, errors)

    def _warm_up(self, group: int) -> None:
        """Count a decision of a group still run by closures; generate its code at the last.

        Safe from many threads: a lost count only delays the switch, two threads may both
        generate (one result wins), and replacing a list item is atomic.
        """
        self._cold[group] -= 1
        if self._cold[group] <= 0:
            self._generate(group)

    def generate_code(self) -> None:
        """Generate every group's code now, rather than after its first decisions."""
        for group in range(len(self._groups)):
            self._generate(group)

    def _generate(self, group: int) -> None:
        self._cold[group] = 0
        self._blocks[group] = make_block(self.compiler, self._groups[group])

    def _evidence(self, rule: CompiledRule, c: Ctx) -> Callable[[], tuple[Evidence, ...]]:
        """A function computing a fired rule's evidence by re-running its `when`s.

        It works on its own copy of the context, so decisions read from several threads
        never share evidence state; the activity and cached `let` values are reused.
        """

        def compute() -> tuple[Evidence, ...]:
            probe = Ctx(c.act, c.time, 0, 0)
            probe.lets = list(c.lets)
            probe.vars = [None] * len(c.vars)
            probe.var_paths = [None] * len(c.vars)
            probe.tokens = c.tokens
            probe.cache = dict(c.cache)
            probe.evidence = []
            try:
                for cond in rule.evidence_whens:
                    cond(probe)
            except EvalError:  # pragma: no cover - the same conditions just held
                pass
            seen = set()
            out = []
            for item in probe.evidence:
                key = (item["path"], item["start"], item["end"], item["text"])
                if item["path"] is None or key not in seen:
                    seen.add(key)
                    out.append(new_evidence(*key))
            return tuple(out)

        return compute

    def _combine(
        self,
        c: Ctx,
        act: dict,
        time: dt.datetime,
        fired: list[tuple[CompiledRule, str | None, str | None]],
        errors: list[tuple[CompiledRule, EvalError]],
    ) -> Decision:
        activity_id = act.get("id")
        if not isinstance(activity_id, str):
            activity_id = None
        by_default = self.settings.default_denies(act.get("kind"))
        if not fired and not errors and not by_default:  # most activities
            return new_decision("allow", activity_id, time, self.ref, (), ())
        deny: list[Finding] = []
        warn: list[Finding] = []
        allow: list[Finding] = []
        audit: list[Finding] = []
        waived_findings: list[Finding] = []
        by_effect = {"deny": deny, "warn": warn, "allow": allow}
        for rule, message, hint in fired:
            info = rule.info
            is_audit = info.mode == "audit"
            waived = None
            if rule.waivers and not is_audit and info.effect != "allow":
                for waiver in rule.waivers:
                    if waiver.covers(act, time):
                        waived = waiver.waived
                        break
            finding = new_finding(
                info.id,
                info.effect,
                is_audit,
                waived,
                message,
                hint,
                info.title,
                info.risk,
                info.severity,
                info.ref,
                info.tags,
                info.source,
                self._evidence(rule, c) if rule.evidence_whens else (),
            )
            group = waived_findings if waived else audit if is_audit else by_effect[info.effect]
            group.append(finding)
        counted_errors = any(rule.info.mode != "audit" for rule, _ in errors)
        on_error = self.settings.on_error if counted_errors else None
        if deny or on_error == "deny":
            decision = "deny"
        elif by_default and not allow:
            decision = "deny"
            deny.append(default_finding())
        elif warn or on_error == "warn":
            decision = "warn"
        else:
            decision = "allow"
        rule_errors = tuple(
            RuleError(
                rule=rule.info.id,
                message=err.message,
                file=(err.span or rule.node.span).file,
                line=(err.span or rule.node.span).line,
                column=(err.span or rule.node.span).column,
            )
            for rule, err in errors
        )
        findings = (*deny, *warn, *allow, *audit, *waived_findings)
        return new_decision(decision, activity_id, time, self.ref, findings, rule_errors)


@cache
def _activity_module():  # noqa: ANN202 - a module
    """`smrules.activity`, imported on first use: loading or linting a policy needs none of it."""
    from . import activity

    return activity


def _position(item: tuple[int, EvalError]) -> int:
    return item[0]


def make_block(compiler: ExprCompiler, rules: list[tuple[int, CompiledRule]]) -> Block:
    """A function testing `rules` (position, rule) in order: generated code (`codegen.py`)
    when Python compiles it, else a loop over the rules' closures."""
    from .codegen import compile_block

    block = compile_block(compiler, rules)
    return block if block is not None else closure_block(rules)


def closure_block(rules: list[tuple[int, CompiledRule]]) -> Block:
    """The reference form of a block: each rule's own test closure, in order."""
    tests = tuple(
        (position, rule.test, EvalError(TOO_DEEP, rule.node.span)) for position, rule in rules
    )

    def block(c: Ctx) -> BlockResult:
        fired: list[int] = []
        errors: list[tuple[int, EvalError]] = []
        for position, test, too_deep in tests:
            run_rule_test(c, position, test, too_deep, fired.append, errors.append)
        return fired, errors

    return block


def run_rule_test(
    c: Ctx,
    position: int,
    test: Callable[[Ctx], bool],
    too_deep: EvalError,
    fired: Callable[[int], None],
    errors: Callable[[tuple[int, EvalError]], None],
) -> None:
    """Decide one rule with its closures, reporting its position as fired or with its error:
    every rule of a closure block, and in generated code the rare rule an inlined form cannot
    take (an unhashable list item, say)."""
    try:
        if test(c):
            fired(position)
    except EvalError as err:
        errors((position, err))
    except RecursionError:
        errors((position, too_deep))


def _rule_guards(compiler: ExprCompiler, program: Program) -> dict[int, object] | None:
    """Each rule's index guard (by id of its node), when the policy is large and guarded
    enough for the rule index to pay; None otherwise."""
    from .guards import MIN_RULES, rule_guard

    decls = [d for m in program.modules for d in m.declarations if isinstance(d, n.Rule)]
    if len(decls) < MIN_RULES:
        return None
    guards = {id(d): rule_guard(compiler, d, Env(compiler.scopes[d.span.file])) for d in decls}
    if sum(g is not None for g in guards.values()) < len(decls) // 2:
        return None
    return guards


def default_finding() -> Finding:
    return Finding(
        rule="default",
        effect="deny",
        audit=False,
        waived=None,
        message=DEFAULT_MESSAGE,
        hint=None,
        title=None,
        risk=None,
        severity=None,
        ref=None,
        tags=(),
        source=None,
        lazy_evidence=(),
    )


# ---------------------------------------------------------------- building


def build_policy(program: Program, diagnostics: list[Diagnostic]) -> Policy | None:
    """Compile a checked program; appends any compile-time problem to `diagnostics`."""
    settings = resolve_settings(program.name, program.headers, diagnostics)
    scopes = build_scopes(program)
    compiler = ExprCompiler(program, scopes, settings.tz)
    rules: list[CompiledRule] = []
    waivers_by_rule = _waivers(program, settings, diagnostics)
    seen: dict[str, n.Rule] = {}
    guards = _rule_guards(compiler, program)
    for module in program.modules:
        scope = scopes[module.file]
        for decl in module.declarations:
            if isinstance(decl, n.Let):
                try:
                    compiler.compile(decl.expr, Env(scope, before=scope.position.get(decl.name)))
                except CompileFailed as failed:
                    diagnostics.append(failed.diagnostic)
            if not isinstance(decl, n.Rule):
                continue
            duplicate = decl.id in seen  # the checker reports it; its body is still checked
            seen.setdefault(decl.id, decl)
            # With a rule index, a rule's patterns scan in a group of their own guard, so an
            # activity scans only the patterns of rules it can reach.
            tag = guards.get(id(decl)) if guards is not None else None
            compiled = _compile_rule(
                compiler, decl, scope, waivers_by_rule.get(decl.id, ()), diagnostics, tag
            )
            if compiled is not None and not duplicate:
                rules.append(compiled)
    _check_waiver_targets(program, seen, diagnostics)
    compiler.finalize()
    if any(d.severity == "error" for d in diagnostics):
        return None
    rule_guards = [guards.get(id(r.node)) for r in rules] if guards is not None else None
    return Policy(program, settings, tuple(rules), compiler, rule_guards)


def _compile_rule(
    compiler: ExprCompiler, rule: n.Rule, scope, waivers, diagnostics, group_tag: object = None
) -> CompiledRule | None:
    whens: list[Fn] = []
    unlesses: list[Fn] = []
    ok = True
    evidence_whens: list[Fn] = []
    for target, exprs, evidence in ((whens, rule.whens, True), (unlesses, rule.unlesses, False)):
        for expr in exprs:
            try:
                env = Env(scope, evidence=evidence, group_tag=group_tag)
                sites = compiler.evidence_sites
                target.append(compiler.compile(expr, env))
                if compiler.evidence_sites > sites:
                    evidence_whens.append(target[-1])
            except CompileFailed as failed:
                diagnostics.append(failed.diagnostic)
                ok = False
    try:
        message = compiler.template(rule.effect.message, Env(scope))
        hint = compiler.template(rule.hint, Env(scope))
    except CompileFailed as failed:
        diagnostics.append(failed.diagnostic)
        ok = False
    if not ok:
        return None
    tags = rule.meta_value("tags", ())
    info = RuleInfo(
        id=rule.id,
        effect=rule.effect.kind,
        title=rule.meta_value("title"),  # type: ignore[arg-type]
        description=rule.meta_value("description"),  # type: ignore[arg-type]
        risk=rule.meta_value("risk"),  # type: ignore[arg-type]
        severity=rule.meta_value("severity"),  # type: ignore[arg-type]
        ref=rule.meta_value("ref"),  # type: ignore[arg-type]
        owner=rule.meta_value("owner"),  # type: ignore[arg-type]
        tags=tuple(tags),  # type: ignore[arg-type]
        mode=str(rule.meta_value("mode", "enforce")),
        waivable=bool(rule.meta_value("waivable", True)),
        source=SourceRef(rule.span.file, rule.span.line, rule.span.column),
    )
    return CompiledRule(
        info,
        rule,
        tuple(whens),
        tuple(unlesses),
        message,
        hint,
        tuple(waivers),
        make_test(
            rule,
            tuple(whens),
            tuple(unlesses),
            all(compiler.is_boolean(e) for e in rule.whens + rule.unlesses),
        ),
        evidence_whens=tuple(evidence_whens),
    )


def _waivers(
    program: Program, settings: Settings, diagnostics: list[Diagnostic]
) -> dict[str, list[CompiledWaiver]]:
    tz = settings.tz
    out: dict[str, list[CompiledWaiver]] = {}
    for entry in program.waivers:
        ends = date_start(entry.until + dt.timedelta(days=1), tz)
        out.setdefault(entry.rule, []).append(
            CompiledWaiver(
                actors=frozenset(entry.actors) if entry.actors is not None else None,
                departments=frozenset(entry.departments) if entry.departments is not None else None,
                ends=ends,
                waived=Waived(entry.until, entry.reason, entry.approved_by),
            )
        )
    return out


def _check_waiver_targets(
    program: Program, rules: dict[str, n.Rule], diagnostics: list[Diagnostic]
) -> None:
    for entry in program.waivers:
        rule = rules.get(entry.rule)
        problem = None
        if entry.rule == "default":
            problem = "the `default` decision cannot be waived"
        elif rule is None:
            problem = f"waiver names unknown rule `{entry.rule}`"
            import difflib

            close = difflib.get_close_matches(entry.rule, list(rules), n=1)
            if close:
                problem += f"; did you mean `{close[0]}`?"
        elif rule.effect.kind == "allow":
            problem = f"rule `{entry.rule}` allows; only deny and warn rules can be waived"
        elif rule.meta_value("waivable", True) is False:
            problem = f"rule `{entry.rule}` is `waivable false`"
        if problem:
            diagnostics.append(Diagnostic("bad-waiver", problem, entry.span))


def compile_program(program: Program, checked: bool = False) -> Policy:
    """Check and compile a loaded program, raising `PolicyError` with every problem.

    `checked`: the program was checked before (a cache hit), so the checker is skipped.
    """
    errors, policy = compile_with_errors(program, checked)
    if errors or policy is None:
        raise PolicyError(errors, program.sources)
    return policy


def compile_with_errors(
    program: Program, checked: bool = False
) -> tuple[list[Diagnostic], Policy | None]:
    """Every load error of a parsed program (checker and compiler), and the policy if none."""
    try:
        diagnostics = [] if checked else _check_errors(program)
        policy = build_policy(program, diagnostics)
    except RecursionError:
        first = program.modules[0].file if program.modules else "<policy>"
        too_deep = Diagnostic(
            "too-deep",
            "an expression is nested too deeply",
            Span(first, 1, 1),
            help="split it into several `let`s",
        )
        return [too_deep], None
    errors = _dedupe(diagnostics)
    return errors, (policy if not errors else None)


def _check_errors(program: Program) -> list[Diagnostic]:
    from .checker import check_program  # not needed (nor imported) when the cache has checked

    return [d for d in check_program(program) if d.severity == "error"]


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diagnostics:
        key = (
            d.code,
            d.span.file if d.span else None,
            d.span.line if d.span else None,
            d.span.column if d.span else None,
        )
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
