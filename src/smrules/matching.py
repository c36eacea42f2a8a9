"""The text operators: `matches`, `mentions`, `near()` and `pii()` (SPEC §2.4, §2.6).

Patterns and phrase lists known at load time are compiled once here; ones that come from the
activity are compiled per evaluation. When the context collects evidence, each operator that
held records where it matched, as code-point offsets into the original string (SPEC §4).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from . import nodes as n
from . import text as textmod
from .builtins import ignore_list, tokens
from .compiler import MAX_EVIDENCE, CompileFailed, Env, ExprCompiler, Fn, PathInfo, _at, shaped
from .errors import Diagnostic
from .patterns import add_match_spans
from .runtime import Ctx
from .values import EvalError, Regex, compile_pattern, type_name

# ---------------------------------------------------------------- patterns

_PATTERN_CACHE: OrderedDict[str, object] = OrderedDict()
_PATTERN_LOCK = threading.Lock()
_PATTERN_CACHE_SIZE = 512


def runtime_pattern(source: str) -> object:
    """Compile a pattern string that came from the activity (bounded, thread-safe cache)."""
    with _PATTERN_LOCK:
        hit = _PATTERN_CACHE.get(source)
        if hit is not None:
            _PATTERN_CACHE.move_to_end(source)
            return hit
    try:
        compiled = compile_pattern(source)
    except ValueError as err:
        raise EvalError(f"invalid regex `{source}`: {err}") from None
    with _PATTERN_LOCK:
        _PATTERN_CACHE[source] = compiled
        while len(_PATTERN_CACHE) > _PATTERN_CACHE_SIZE:
            _PATTERN_CACHE.popitem(last=False)
    return compiled


def _patterns_of(value: object, *, at_load: bool) -> list[object]:
    """The compiled patterns a `matches` right operand stands for."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, Regex):
            out.append(item.compiled)
        elif type(item) is str:
            if at_load:
                try:
                    out.append(compile_pattern(item))
                except ValueError as err:
                    raise ValueError(f"invalid regex `{item}`: {err}") from None
            else:
                out.append(runtime_pattern(item))
        else:
            raise EvalError(
                "`matches` needs a regex, a pattern string or a list of these, "
                f"got {type_name(item)}"
            )
    return out


_NO_HITS: frozenset[int] = frozenset()


def _match_on_activity_path(
    subject: Fn,
    group,
    indices: tuple[int, ...],
    check_subject,
    patterns: list[object],
    path: PathInfo | None,
) -> Fn:
    """`content.text matches P` for a plain activity path: the field holds one string for the
    whole evaluation, so the group's scan result is cached under the group alone and every
    later `matches` on that field is one dictionary lookup."""
    key = ("path-scan", group.key)

    def hits_of(c: Ctx) -> frozenset[int]:
        hits = c.cache.get(key)
        if hits is None:
            s = subject(c)
            if type(s) is str:
                hits = group.scan(c, s)
            else:
                check_subject(s)  # raises for a non-string; null matches nothing
                hits = _NO_HITS
            c.cache[key] = hits
        return hits  # type: ignore[return-value]

    def evidence(c: Ctx) -> None:
        if path is not None and c.evidence is not None:
            s = subject(c)
            _regex_evidence(c, _where(path, c), s, patterns, hits_of(c), indices)

    if len(indices) == 1:
        (index,) = indices

        def match_path(c: Ctx) -> bool:
            found = index in hits_of(c)
            if found and path is not None and c.evidence is not None:
                evidence(c)
            return found

        return shaped(match_path, "hits", hits_of, group, indices, subject)

    def match_path_any(c: Ctx) -> bool:
        hits = hits_of(c)
        found = any(i in hits for i in indices)
        if found and path is not None and c.evidence is not None:
            evidence(c)
        return found

    return shaped(match_path_any, "hits", hits_of, group, indices, subject)


def _sources_of(value: object) -> list[str]:
    """The inline-flag sources of constant patterns, in the order `_patterns_of` gives them."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        if isinstance(item, Regex):
            flags = "".join(sorted(set(item.flags)))
            out.append((f"(?{flags})" if flags else "") + item.source)
        else:
            out.append(str(item))
    return out


def _regex_evidence(
    c: Ctx,
    where: str | None,
    subject: str,
    patterns: list[object],
    hits: frozenset[int] | None = None,
    indices: tuple[int, ...] = (),
) -> None:
    """The spans of `patterns` in `subject`. With the fused scan's `hits` (and the group index
    of each pattern), only the patterns that matched are searched again."""
    spans: list[tuple[int, int]] = []
    for i, pattern in enumerate(patterns):
        if hits is None or indices[i] in hits:
            add_match_spans(pattern, subject, spans, 4 * MAX_EVIDENCE)
    _add_spans(c, where, subject, spans)


def _add_spans(c: Ctx, where: str | None, subject: str, spans: list[tuple[int, int]]) -> None:
    """Non-overlapping spans, leftmost (then longest) first, at most MAX_EVIDENCE."""
    if c.evidence is None:
        return
    spans.sort(key=lambda s: (s[0], -s[1]))
    last_end = -1
    count = 0
    for start, end in spans:
        if start < last_end:
            continue
        c.evidence.append(
            {
                "path": where,
                "start": start if where is not None else None,
                "end": end if where is not None else None,
                "text": subject[start:end],
            }
        )
        last_end = end
        count += 1
        if count >= MAX_EVIDENCE:
            break


def _where(path: PathInfo | None, c: Ctx) -> str | None:
    return path.render(c) if path is not None else None


def compile_matches(comp: ExprCompiler, expr: n.Compare, env: Env) -> Fn:
    subject = comp.compile(expr.left, env)
    span = expr.span
    path = comp.path_info(expr.left, env) if env.evidence else None
    known, value = comp.const_value(expr.right, env)
    want_evidence = comp.wants_evidence(env)

    def check_subject(s: object) -> bool:
        if type(s) is str:
            return True
        if s is None:
            return False
        raise EvalError(f"`matches` needs a string on the left, got {type_name(s)}", span)

    if known:
        if value is None:
            return lambda c: False
        try:
            patterns = _patterns_of(value, at_load=True)
        except ValueError as err:
            raise CompileFailed(Diagnostic("bad-regex", str(err), expr.right.span)) from None
        except EvalError as err:
            raise CompileFailed(Diagnostic("type", err.message, expr.right.span)) from None
        group = comp.pattern_group(expr.left, env)
        indices = tuple(
            group.add(source, pattern)
            for source, pattern in zip(_sources_of(value), patterns, strict=True)
        )
        scan = group.scan
        if comp._static_keys(expr.left, env) is not None:
            return _match_on_activity_path(
                subject, group, indices, check_subject, patterns, path if want_evidence else None
            )
        if len(indices) == 1:
            (index,) = indices

            def match_fused(c: Ctx) -> bool:
                s = subject(c)
                if type(s) is not str and not check_subject(s):
                    return False
                found = index in scan(c, s)
                if found and want_evidence and c.evidence is not None:
                    _regex_evidence(c, _where(path, c), s, patterns)
                return found

            return shaped(match_fused, "scan", subject, scan, index, check_subject)

        def match_any(c: Ctx) -> bool:
            s = subject(c)
            if type(s) is not str and not check_subject(s):
                return False
            hits = scan(c, s)
            found = any(i in hits for i in indices)
            if found and want_evidence and c.evidence is not None:
                _regex_evidence(c, _where(path, c), s, patterns, hits, indices)
            return found

        return match_any

    pattern_fn = comp.compile(expr.right, env)

    def match_dynamic(c: Ctx) -> bool:
        s = subject(c)
        p = pattern_fn(c)
        if s is None or p is None:
            return False
        check_subject(s)
        try:
            patterns = _patterns_of(p, at_load=False)
        except EvalError as err:
            raise _at(err, span) from None
        found = any(pat.search(s) is not None for pat in patterns)  # type: ignore[attr-defined]
        if found and want_evidence and c.evidence is not None:
            _regex_evidence(c, _where(path, c), s, patterns)
        return found

    return match_dynamic


# ---------------------------------------------------------------- phrases


def _phrases_of(value: object) -> list[str]:
    if type(value) is str:
        return [value]
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, (list, tuple)):
        bad = next((v for v in value if type(v) is not str), None)
        if bad is not None:
            raise EvalError(f"phrases must be strings, got {type_name(bad)}")
        return list(value)
    raise EvalError(f"phrases must be a string, a list of strings or a map, got {type_name(value)}")


_PHRASE_CACHE: OrderedDict[tuple[str, ...], textmod.PhraseSet] = OrderedDict()
_PHRASE_CACHE_SIZE = 256


def _cached_phrase_set(phrases: list[str]) -> textmod.PhraseSet:
    """Phrase lists that come from the activity recur (a department's list, an account's):
    compile each distinct list once (bounded, thread-safe cache)."""
    key = tuple(phrases)
    with _PATTERN_LOCK:
        hit = _PHRASE_CACHE.get(key)
        if hit is not None:
            _PHRASE_CACHE.move_to_end(key)
            return hit
    compiled = textmod.PhraseSet.compile(phrases)
    with _PATTERN_LOCK:
        _PHRASE_CACHE[key] = compiled
        while len(_PHRASE_CACHE) > _PHRASE_CACHE_SIZE:
            _PHRASE_CACHE.popitem(last=False)
    return compiled


def phrase_set(value: object, span, *, at_load: bool) -> textmod.PhraseSet:
    try:
        phrases = _phrases_of(value)
        if at_load:
            return textmod.PhraseSet.compile(phrases)
        return _cached_phrase_set(phrases)
    except textmod.PhraseError as err:
        if at_load:
            raise CompileFailed(Diagnostic("bad-phrase", str(err), span)) from None
        raise EvalError(str(err), span) from None
    except EvalError as err:
        if at_load:
            raise CompileFailed(Diagnostic("type", err.message, span)) from None
        raise _at(err, span) from None


def _phrase_fn(comp: ExprCompiler, node: n.Expr, env: Env):
    """A function giving the PhraseSet of an operand: compiled now if constant."""
    known, value = comp.const_value(node, env)
    if known:
        if value is None:
            return lambda c: None
        compiled = phrase_set(value, node.span, at_load=True)
        return lambda c: compiled
    fn = comp.compile(node, env)
    span = node.span

    def dynamic(c: Ctx):
        v = fn(c)
        if v is None:
            return None
        key = ("phrases", id(v))
        hit = c.cache.get(key)
        if hit is not None and hit[0] is v:  # type: ignore[index]
            return hit[1]  # type: ignore[index]
        compiled = phrase_set(v, span, at_load=False)
        c.cache[key] = (v, compiled)
        return compiled

    return dynamic


def _word_spans(words, occurrences) -> list[tuple[int, int]]:
    return [(words[i].start, words[j].end) for i, j in occurrences]


def compile_mentions(comp: ExprCompiler, expr: n.Compare, env: Env) -> Fn:
    subject = comp.compile(expr.left, env)
    phrases = _phrase_fn(comp, expr.right, env)
    span = expr.span
    path = comp.path_info(expr.left, env) if env.evidence else None
    want_evidence = comp.wants_evidence(env)

    def mentions(c: Ctx) -> bool:
        s = subject(c)
        if s is None:
            return False
        if type(s) is not str:
            raise EvalError(f"`mentions` needs a string on the left, got {type_name(s)}", span)
        ps = phrases(c)
        if ps is None:
            return False
        words = tokens(c, s)
        found = ps.search(words)
        if found and want_evidence and c.evidence is not None:
            _add_spans(c, _where(path, c), s, _word_spans(words, ps.find(words)))
        return found

    return mentions


def compile_near(comp: ExprCompiler, expr: n.Call, env: Env, _kinds: object) -> Fn:
    s_node, a_node, b_node, n_node = expr.args
    subject = comp.compile(s_node, env)
    a_fn = _phrase_fn(comp, a_node, env)
    b_fn = _phrase_fn(comp, b_node, env)
    dist = comp.compile(n_node, env)
    span = expr.span
    path = comp.path_info(s_node, env) if env.evidence else None
    want_evidence = comp.wants_evidence(env)

    def near(c: Ctx) -> bool:
        s = subject(c)
        if s is None:
            return False
        if type(s) is not str:
            raise EvalError(f"`near` needs a string to search, got {type_name(s)}", span)
        k = dist(c)
        if type(k) not in (int, float) or (type(k) is float and not k.is_integer()):
            raise EvalError(f"`near` needs a whole number of words, got {type_name(k)}", span)
        a, b = a_fn(c), b_fn(c)
        if a is None or b is None:
            return False
        words = tokens(c, s)
        found = textmod.near_any(words, a, b, int(k))
        if found and want_evidence and c.evidence is not None:
            spans = []
            for first, second in textmod.near_pairs(words, a, b, int(k)):
                spans.extend(_word_spans(words, [first, second]))
            _add_spans(c, _where(path, c), s, spans)
        return found

    return near


def compile_pii(comp: ExprCompiler, expr: n.Call, env: Env, _kinds: object) -> Fn:
    from .pii import find_pii, pii

    subject = comp.compile(expr.args[0], env)
    ignore = comp.compile(expr.args[1], env) if len(expr.args) > 1 else (lambda c: None)
    span = expr.span
    path = comp.path_info(expr.args[0], env) if env.evidence else None
    want_evidence = comp.wants_evidence(env)
    kinds = env.pii_kinds

    def pii_call(c: Ctx) -> list[str]:
        s = subject(c)
        if s is None:
            return []
        if type(s) is not str:
            raise EvalError(f"`pii` needs a string, got {type_name(s)}", span)
        try:
            skip = ignore_list(ignore(c))
        except EvalError as err:
            raise _at(err, span) from None
        key = ("pii", s, skip)  # several rules often test the same text
        found = c.cache.get(key)
        if found is None:
            found = c.cache[key] = pii(s, skip)
        found = list(found)  # type: ignore[arg-type]
        if found and want_evidence and c.evidence is not None:
            matches = find_pii(s, kinds, skip)
            _add_spans(c, _where(path, c), s, [(m.start, m.end) for m in matches])
        return found

    return pii_call


__all__ = ["compile_matches", "compile_mentions", "compile_near", "compile_pii", "replace"]
