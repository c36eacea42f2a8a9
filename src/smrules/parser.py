"""Source text to AST: Lark (LALR, contextual lexer) plus a transformer to `nodes`.

Nothing outside this module sees a Lark tree. Syntax errors become `Diagnostic`s with a
plain-words expectation; literal problems (bad escapes, dates, regex flags, reserved names)
are collected while building the AST so one parse reports them all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from . import nodes as n
from .errors import Diagnostic, Span

RESERVED = frozenset(
    "policy import as let rule when unless deny warn allow hint and or not in contains matches "
    "mentions startswith endswith intersects any all count filter true false null default "
    "activity".split()
)

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}")

# Plain words for the tokens a syntax error can expect.
_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "DATE": "a date",
    "INSTANT": "an instant",
    "REGEX": "a regex",
    "$END": "end of file",
}


class _ReservedWords:
    """Reserved words are keywords everywhere except right after a `.` (SPEC §2.2).

    The contextual lexer reads `deny` as a name wherever a name may stand; this post-lexer
    turns such a name back into its keyword unless the previous token was a `.`.
    """

    always_accept = ("NAME",)  # so `orb` lexes as one name, never `or` + `b` (SPEC §2.2)

    def __init__(self) -> None:
        self.keyword_types: dict[str, str] = {}
        self.dot_type = "DOT"

    def process(self, stream):
        after_dot = False
        for token in stream:
            if token.type == "NAME" and not after_dot and token.value in self.keyword_types:
                token.type = self.keyword_types[token.value]
            after_dot = token.type == self.dot_type
            yield token


_RESERVED_WORDS = _ReservedWords()


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    probe = Lark(grammar, parser="lalr", lexer="contextual", start=["start", "expr"])
    for term in probe.terminals:
        if term.pattern.type == "str" and term.pattern.value in RESERVED:
            _RESERVED_WORDS.keyword_types[term.pattern.value] = term.name
        elif term.pattern.type == "str" and term.pattern.value == ".":
            _RESERVED_WORDS.dot_type = term.name
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        start=["start", "expr"],
        propagate_positions=True,
        maybe_placeholders=False,
        postlex=_RESERVED_WORDS,
    )


def _parse(text: str, start: str):
    return _lark().parse(text, start=start)


MAX_INTEGER_DIGITS = 4300  # Python's default bound on converting digits to an int


class ParseFailed(Exception):
    """Raised by `parse_module` with every diagnostic found in one file."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


def parse_module(text: str, file: str) -> n.Module:
    """Parse one `.smr` file into a `Module`, or raise `ParseFailed`."""
    try:
        tree = _parse(text, "start")
        builder = _Builder(file, text)
        module = builder.transform(tree)
    except UnexpectedInput as err:
        raise ParseFailed([_syntax_diagnostic(err, text, file)]) from None
    except RecursionError:
        raise ParseFailed([_too_deep(file)]) from None
    except VisitError as err:  # lark wraps what a transformer method raises
        if isinstance(err.orig_exc, RecursionError):
            raise ParseFailed([_too_deep(file)]) from None
        raise
    if builder.diagnostics:
        raise ParseFailed(builder.diagnostics)
    return module


def parse_expression(text: str, file: str = "<expr>", line: int = 1, column: int = 1) -> n.Expr:
    """Parse a single expression (used for `{expr}` interpolation and by tools)."""
    try:
        tree = _parse(text, "expr")
        builder = _Builder(file, text, line_offset=line - 1, column_offset=column - 1)
        expr = builder.transform(tree)
    except UnexpectedInput as err:
        diag = _syntax_diagnostic(err, text, file)
        raise ParseFailed([_shift(diag, line, column)]) from None
    except RecursionError:
        raise ParseFailed([_shift(_too_deep(file), line, column)]) from None
    except VisitError as err:
        if isinstance(err.orig_exc, RecursionError):
            raise ParseFailed([_shift(_too_deep(file), line, column)]) from None
        raise
    if builder.diagnostics:
        raise ParseFailed(builder.diagnostics)
    return expr


def _too_deep(file: str) -> Diagnostic:
    return Diagnostic(
        "too-deep",
        "an expression is nested too deeply",
        Span(file, 1, 1),
        help="split it into several `let`s",
    )


def _shift(diag: Diagnostic, line: int, column: int) -> Diagnostic:
    span = diag.span
    if span is None:
        return diag
    col = span.column + (column - 1 if span.line == 1 else 0)
    shifted = Span(span.file, span.line + line - 1, col)
    return Diagnostic(diag.code, diag.message, shifted, diag.severity, diag.help)


# ---------------------------------------------------------------- syntax errors


def _describe_expected(expected: set[str]) -> str:
    terminals = {t.name: t for t in _lark().terminals}
    words = set()
    for name in expected:
        if name in _TOKEN_WORDS:
            words.add(_TOKEN_WORDS[name])
            continue
        term = terminals.get(name)
        if term is not None and term.pattern.type == "str":
            words.add(f"`{term.pattern.value}`")
        else:
            words.add(name.lower())
    ordered = sorted(words, key=lambda w: (not w.startswith("a"), w))
    if len(ordered) > 12:
        ordered = ordered[:12] + ["..."]
    return ", ".join(ordered)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    return f"`{token.value}`"


def _syntax_diagnostic(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = getattr(err, "line", 1) or 1
    column = getattr(err, "column", 1) or 1
    help_text = None
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        rest = text[err.pos_in_stream :].split("\n", 1)[0]
        if ch == '"':
            message = "unterminated string"
            help_text = 'strings are on one line and end with `"`; write a newline as `\\n`'
        elif ch == "/":
            message = "unterminated regex"
            help_text = "a regex is `/pattern/flags` on one line; write `/` inside it as `\\/`"
        elif ch == "=":
            message = "`=` is not an operator"
            help_text = "to compare, use `==`"
        elif re.match(r"-?[0-9]", rest):
            word = re.match(r"[^\s,\]\)]*", rest).group(0)  # type: ignore[union-attr]
            message = f"invalid number or date `{word}`"
            help_text = (
                "numbers are like `90`, `-1`, `0.5`; dates `2026-12-15`; names start with a letter"
            )
        else:
            message = f"unexpected character `{ch}`"
            if ch == "'":
                help_text = "strings use double quotes"
            elif ch in "+-*%":
                help_text = "the language has no arithmetic"
            elif ch in "&|!":
                help_text = "write `and`, `or`, `not`"
        return Diagnostic("syntax", message, Span(file, line, column), help=help_text)
    if isinstance(err, UnexpectedToken):
        token = err.token
        if token.type == "$END":
            line, column = _end_position(text)
        expected = set(err.expected)
        message = f"unexpected {_token_text(token)}; expected {_describe_expected(expected)}"
        prev = getattr(err, "token_history", None)
        comparison_ops = {
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "in",
            "contains",
            "matches",
            "mentions",
            "startswith",
            "endswith",
            "intersects",
        }
        if token.value in comparison_ops and "RPAR" in expected | {"RPAR"}:
            if any(name in expected for name in ("AND", "OR", "WHEN", "UNLESS", "RPAR", "RSQB")):
                message = f"comparisons cannot be chained: unexpected {_token_text(token)}"
                help_text = "join two comparisons with `and`, e.g. `0 < x and x < 10`"
        elif token.value in RESERVED and "NAME" in expected:
            if "STRING" in expected or "NUMBER" in expected:
                message = f"unexpected `{token.value}`; expected a value"
                help_text = (
                    f"the expression before it is incomplete; `{token.value}` is a "
                    "reserved word and cannot be used as a name"
                )
            else:
                return Diagnostic(
                    "reserved-name",
                    f"`{token.value}` is a reserved word and cannot be used as a name",
                    Span(file, line, column),
                    help="choose another name",
                )
        elif token.type in ("WHEN", "UNLESS") or token.value in ("when", "unless"):
            help_text = "a rule body is: metadata, then `when`s, then `unless`es, then one effect"
        elif token.value in ("deny", "warn", "allow", "hint") and prev is not None:
            help_text = "a rule has exactly one effect, optionally followed by one `hint`"
        return Diagnostic("syntax", message, Span(file, line, column), help=help_text)
    if isinstance(err, UnexpectedEOF):
        line, column = _end_position(text)
        expected = set(err.expected)
        return Diagnostic(
            "syntax",
            f"unexpected end of file; expected {_describe_expected(expected)}",
            Span(file, line, column),
        )
    return Diagnostic("syntax", str(err).splitlines()[0], Span(file, line, column))


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


# ---------------------------------------------------------------- tree -> nodes


@v_args(meta=True)
class _Builder(Transformer):
    def __init__(self, file: str, text: str, line_offset: int = 0, column_offset: int = 0) -> None:
        super().__init__()
        self.file = file
        self.text = text
        self.line_offset = line_offset
        self.column_offset = column_offset
        self.diagnostics: list[Diagnostic] = []

    # -- positions
    def _span(self, meta) -> Span:
        return self._pos(meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        return self._pos(tok.line, tok.column, tok.end_line, tok.end_column)

    def _pos(self, line, column, end_line=None, end_column=None) -> Span:
        col_shift = self.column_offset if line == 1 else 0
        end_shift = self.column_offset if end_line == 1 else 0
        return Span(
            self.file,
            line + self.line_offset,
            column + col_shift,
            None if end_line is None else end_line + self.line_offset,
            None if end_column is None else end_column + end_shift,
        )

    def _error(self, code: str, message: str, span: Span, help_text: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help=help_text))

    def _name(self, tok: Token) -> str:
        if tok.value in RESERVED:
            self._error(
                "reserved-name",
                f"`{tok.value}` is a reserved word and cannot be used as a name",
                self._tspan(tok),
                "choose another name",
            )
        return str(tok.value)

    # -- strings
    def _string(self, tok: Token) -> str:
        value, _ = self._unescape(tok)
        return value

    def _unescape(self, tok: Token) -> tuple[str, list[int]]:
        """Read escapes; return the value and, per value character, its column offset in tok."""
        raw = tok.value[1:-1]
        out: list[str] = []
        origin: list[int] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                origin.append(i + 1)
                i += 1
                continue
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                origin.append(i + 1)
                i += 2
                continue
            match = _UNICODE_ESCAPE.match(raw, i + 1)
            if match:
                code = int(match.group(1), 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    self._error(
                        "bad-escape",
                        f"`\\u{{{match.group(1)}}}` is not a Unicode scalar value",
                        self._pos(tok.line, tok.column + i + 1),
                        "use a code point from 0 to 10FFFF, outside D800-DFFF",
                    )
                else:
                    out.append(chr(code))
                    origin.append(i + 1)
                i = match.end()
                continue
            self._error(
                "bad-escape",
                f"unknown escape `\\{nxt}`",
                self._pos(tok.line, tok.column + i + 1),
                'the escapes are \\" \\\\ \\n \\t and \\u{XXXX}',
            )
            i += 2
        return "".join(out), origin

    def _template(self, tok: Token) -> n.Template:
        value, origin = self._unescape(tok)
        span = self._tspan(tok)
        parts: list[str | n.Expr] = []
        buf: list[str] = []
        i = 0
        while i < len(value):
            ch = value[i]
            if ch == "{":
                if value.startswith("{{", i):
                    buf.append("{")
                    i += 2
                    continue
                close = value.find("}", i + 1)
                col = tok.column + (origin[i] if i < len(origin) else 0)
                if close < 0:
                    self._error(
                        "bad-template",
                        "`{` opens an interpolation that is never closed",
                        self._pos(tok.line, col),
                        "close it with `}`, or write a literal brace as `{{`",
                    )
                    break
                source = value[i + 1 : close]
                bad = next((c for c in source if c in '{"\\#'), None)
                if not source.strip():
                    self._error(
                        "bad-template",
                        "empty interpolation `{}`",
                        self._pos(tok.line, col),
                        "write an expression between the braces, or `{{}}` for literal braces",
                    )
                elif bad is not None:
                    self._error(
                        "bad-template",
                        f"an interpolation may not contain `{bad}`",
                        self._pos(tok.line, col),
                        "use a `let` for complex values",
                    )
                else:
                    if buf:
                        parts.append("".join(buf))
                        buf = []
                    try:
                        expr = parse_expression(
                            source,
                            self.file,
                            tok.line + self.line_offset,
                            self._abs_col(tok, col + 1),
                        )
                    except ParseFailed as failed:
                        self.diagnostics.extend(failed.diagnostics)
                    else:
                        parts.append(expr)
                i = close + 1
                continue
            if ch == "}":
                if value.startswith("}}", i):
                    buf.append("}")
                    i += 2
                    continue
                self._error(
                    "bad-template",
                    "a lone `}` in a message",
                    self._pos(tok.line, tok.column + (origin[i] if i < len(origin) else 0)),
                    "write a literal brace as `}}`",
                )
                i += 1
                continue
            buf.append(ch)
            i += 1
        if buf:
            parts.append("".join(buf))
        return n.Template(tuple(parts), span)

    def _abs_col(self, tok: Token, col: int) -> int:
        return col + (self.column_offset if tok.line == 1 else 0)

    # -- file
    def start(self, meta, items):
        return n.Module(self.file, tuple(items))

    def policy_decl(self, meta, children):
        name_tok, *settings = children
        return n.PolicyHeader(
            self._name(name_tok), tuple(settings), self._span(meta), self._tspan(name_tok)
        )

    def setting_string(self, meta, children):
        key, value = children
        return n.Setting(str(key.value), self._string(value), self._span(meta))

    def setting_default(self, meta, children):
        effect = str(children[1].value)
        kinds = children[3] if len(children) > 3 else None
        return n.Setting("default", effect, self._span(meta), kinds)

    def setting_on_error(self, meta, children):
        return n.Setting("on_error", str(children[1].value), self._span(meta))

    def import_decl(self, meta, children):
        path_tok, alias_tok = children
        return n.Import(
            self._string(path_tok),
            self._name(alias_tok),
            self._span(meta),
            self._tspan(path_tok),
            self._tspan(alias_tok),
        )

    def let_decl(self, meta, children):
        name_tok, expr = children
        return n.Let(self._name(name_tok), expr, self._span(meta), self._tspan(name_tok))

    def rule_decl(self, meta, children):
        id_tok, *body = children
        metas = tuple(c for c in body if isinstance(c, n.Meta))
        whens = tuple(c[1] for c in body if isinstance(c, tuple) and c[0] == "when")
        unlesses = tuple(c[1] for c in body if isinstance(c, tuple) and c[0] == "unless")
        effect = next(c for c in body if isinstance(c, n.Effect))
        hint = next((c for c in body if isinstance(c, n.Template)), None)
        return n.Rule(
            self._name(id_tok),
            metas,
            whens,
            unlesses,
            effect,
            hint,
            self._span(meta),
            self._tspan(id_tok),
        )

    def meta_string(self, meta, children):
        key, value = children
        return n.Meta(str(key.value), self._string(value), self._span(meta), self._tspan(value))

    def meta_name(self, meta, children):
        key, value = children
        name = str(key.value)
        if name == "risk":
            self._name(value)
        if name == "waivable":
            return n.Meta(name, value.value == "true", self._span(meta), self._tspan(value))
        return n.Meta(name, str(value.value), self._span(meta), self._tspan(value))

    def meta_tags(self, meta, children):
        key, items = children
        tags = []
        for item in items.items:
            if isinstance(item, n.Literal) and isinstance(item.value, str):
                tags.append(item.value)
            else:
                self._error("type", "tags must be a list of strings", item.span)
        return n.Meta("tags", tuple(tags), self._span(meta), items.span)

    def when_clause(self, meta, children):
        return ("when", children[0])

    def unless_clause(self, meta, children):
        return ("unless", children[0])

    def effect(self, meta, children):
        kind = str(children[0].value)
        message = self._template(children[1]) if len(children) > 1 else None
        return n.Effect(kind, message, self._span(meta))

    def hint(self, meta, children):
        return self._template(children[0])

    # -- expressions
    def or_op(self, meta, children):
        return n.Or(children[0], children[1], self._span(meta))

    def and_op(self, meta, children):
        return n.And(children[0], children[1], self._span(meta))

    def not_op(self, meta, children):
        return n.Not(children[0], self._span(meta))

    def compare(self, meta, children):
        left, op, right = children
        return n.Compare(op, left, right, self._span(meta))

    def comp_op(self, meta, children):
        return " ".join(str(t.value) for t in children)

    def field(self, meta, children):
        obj, name_tok = children
        return n.Field(obj, str(name_tok.value), self._span(meta))

    def index(self, meta, children):
        obj, idx = children
        return n.Index(obj, idx, self._span(meta))

    def call(self, meta, children):
        name_tok, *args = children
        return n.Call(str(name_tok.value), tuple(args), self._span(meta))

    def quantifier(self, meta, children):
        kind_tok, var_tok, source, body = children
        return n.Quantifier(
            str(kind_tok.value),
            self._name(var_tok),
            self._tspan(var_tok),
            source,
            body,
            self._span(meta),
        )

    def list_lit(self, meta, children):
        return n.ListLiteral(tuple(children), self._span(meta))

    def string(self, meta, children):
        return n.Literal(self._string(children[0]), self._span(meta))

    def number(self, meta, children):
        text = str(children[0].value)
        value: object = math.inf
        # More digits than Python converts by default (4,300), or a decimal beyond a float.
        if len(text.lstrip("-").partition(".")[0]) <= MAX_INTEGER_DIGITS:
            value = float(text) if "." in text else int(text)
        if value in (math.inf, -math.inf):
            self._error(
                "bad-literal",
                "number is too large",
                self._span(meta),
                f"numbers have at most {MAX_INTEGER_DIGITS:,} digits before the decimal point,"
                " and decimals stay below 1.8e308",
            )
        return n.Literal(value, self._span(meta))

    def true(self, meta, children):
        return n.Literal(True, self._span(meta))

    def false(self, meta, children):
        return n.Literal(False, self._span(meta))

    def null(self, meta, children):
        return n.Literal(None, self._span(meta))

    def activity(self, meta, children):
        return n.ActivityRef(self._span(meta))

    def name(self, meta, children):
        return n.Name(str(children[0].value), self._span(meta))

    def date(self, meta, children):
        text = str(children[0].value)
        try:
            value: object = dt.date.fromisoformat(text)
        except ValueError:
            self._error(
                "bad-literal",
                f"`{text}` is not a valid calendar date",
                self._span(meta),
                "dates are YYYY-MM-DD with a real month and day",
            )
            value = None
        return n.Literal(value, self._span(meta))

    def instant(self, meta, children):
        text = str(children[0].value)
        value = parse_instant_text(text)
        if value is None:
            self._error(
                "bad-literal",
                f"`{text}` is not a valid instant",
                self._span(meta),
                "instants are YYYY-MM-DDTHH:MM[:SS[.fraction]] with an optional Z or ±HH:MM",
            )
            value = dt.datetime(1970, 1, 1)
        return n.InstantLiteral(value, text, self._span(meta))

    def regex(self, meta, children):
        raw = str(children[0].value)
        end = raw.rindex("/")
        pattern, flags = raw[1:end], raw[end + 1 :]
        seen = set()
        for flag in flags:
            if flag not in "ims" or flag in seen:
                what = "repeated" if flag in seen else "unknown"
                self._error(
                    "bad-regex",
                    f"{what} regex flag `{flag}`",
                    self._span(meta),
                    "flags are `i` (ignore case), `m` (multi-line), `s` (dot matches newline)",
                )
            seen.add(flag)
        return n.RegexLiteral(pattern.replace("\\/", "/"), flags, self._span(meta))

    def __default__(self, data, children, meta):  # pragma: no cover - grammar and builder agree
        raise AssertionError(f"no builder for grammar rule {data!r}")


def parse_instant_text(text: str) -> dt.datetime | None:
    """Parse `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM]`; naive when there is no offset."""
    body = text
    tz: dt.tzinfo | None = None
    if body.endswith("Z"):
        body, tz = body[:-1], dt.timezone.utc
    else:
        m = re.search(r"([+-])(\d{2}):(\d{2})$", body)
        if m and len(body) - len(m.group(0)) >= 16:
            sign = 1 if m.group(1) == "+" else -1
            hours, minutes = int(m.group(2)), int(m.group(3))
            if hours > 23 or minutes > 59:
                return None
            tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
            body = body[: m.start()]
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?", body)
    if not m:
        return None
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


__all__ = ["ParseFailed", "RESERVED", "parse_expression", "parse_instant_text", "parse_module"]
