"""Canonical layout for `.smr` files (`smrules fmt`): one way to write a policy.

The layout:
- two-space indentation inside `policy { }` and `rule { }` blocks; one setting, metadata item,
  `when`/`unless` clause, effect or `hint` per line;
- in a block, the leading keywords of a run of items (items not separated by a blank line above
  them or their comments) are padded to one width, so their values line up; in a run of
  consecutive `let`s the `=` signs line up the same way (the layout of the example in SPEC §2.1);
- one blank line between top-level declarations; consecutive `let`s and `import`s stay together,
  keeping one blank line where the source had one or more; inside a block a blank line of the
  source is kept (at most one), none at the start or end of the block;
- single spaces around operators and after commas and colons, none inside brackets; strings,
  regexes, numbers, dates and instants exactly as written; parentheses only where the grammar
  needs them, plus around a comparison under `not` (`not (x in y)`) and an `and` inside an `or`
  (`a or (b and c)`); no trailing commas except in a list broken over lines;
- an expression that does not fit in 100 columns breaks before each `or` (then, inside, each
  `and`), aligned under its first operand; a quantifier's body moves to the next line, under the
  character after `any(`; call arguments go one per line, aligned after `(`; a list goes one item
  per line, indented two spaces, with a trailing comma;
- every comment is kept. A comment on a line of its own stays on a line of its own before the
  same token, indented like it; a comment after code stays at the end of that line. Trailing
  comments of consecutive lines line up two spaces after the longest of those lines, and a
  comment line placed exactly under such a comment stays under it (a continued comment).

`format_source` is idempotent, and checks that its result parses to the same tree (positions
aside) and holds the same comments in the same order before returning it. A file that does not
parse, or nests expressions too deeply to format, raises `ParseFailed`.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

from lark import Token

from . import nodes as n
from .errors import Diagnostic, Span
from .parser import ParseFailed, _lark, parse_module

__all__ = ["FormatError", "ParseFailed", "format_source", "same_tree"]

WIDTH = 100
INDENT = 2

# Tokens the layout may add or drop (parentheses, commas) or that cannot sensibly carry a comment
# (`.`, `:`, `=`). Every other token is printed once, in source order, and anchors comments.
_UNANCHORED = frozenset({"(", ")", ",", ".", ":", "="})

# Precedence levels, loosest first (SPEC §2.4).
_OR, _AND, _NOT, _COMPARE, _POSTFIX = 1, 2, 3, 4, 5


class FormatError(RuntimeError):
    """The formatter would have changed a policy's meaning or lost a comment (a bug in smrules)."""


def format_source(text: str, filename: str = "<input>") -> str:
    """The canonical layout of one `.smr` file. Raises `ParseFailed` if it does not parse."""
    text = text.removeprefix("\ufeff")  # a byte order mark is not part of the layout
    module = parse_module(text, filename)
    try:
        source = _Source.lex(text)
        doc = _Builder(source).module(module)
        _measure(doc, {c.prev_anchor for c in source.comments})
        printer = _Printer(source)
        printer.print(doc)
        printer.finish()
        result = printer.text()
        _verify(module, source, result, filename)
    except RecursionError:
        raise ParseFailed([_too_deep(filename)]) from None
    return result


def _too_deep(filename: str) -> Diagnostic:
    return Diagnostic(
        "too-deep",
        "an expression is nested too deeply to format",
        Span(filename, 1, 1),
        help="split it into several `let`s",
    )


# ---------------------------------------------------------------- source tokens and comments


@dataclass(frozen=True, slots=True)
class _Tok:
    value: str
    line: int
    column: int
    prev_code_line: int  # end line of the code token before it (0 at the start)


@dataclass(frozen=True, slots=True)
class _Comment:
    text: str
    line: int
    prev_anchor: int  # index of the last anchored token before it, -1 at the start
    trailing: bool  # code precedes it on its line
    continues: bool  # on its own line, right under a trailing comment, at the same column


class _Source:
    """The anchored tokens and the comments of a file that parsed."""

    def __init__(self, anchors: list[_Tok], comments: list[_Comment], last_code_line: int):
        self.anchors = anchors
        self.comments = comments
        self.last_code_line = last_code_line
        self._keys = [(t.line, t.column) for t in anchors]
        self._own_lines: dict[int, list[int]] = {}  # anchor -> lines of the comments above it
        for comment in comments:
            if not comment.trailing:
                self._own_lines.setdefault(comment.prev_anchor + 1, []).append(comment.line)

    @staticmethod
    def lex(text: str) -> _Source:
        """Lexing after a successful parse gives the parser's token boundaries."""
        anchors: list[_Tok] = []
        comments: list[_Comment] = []
        last_code_line = 0
        chain: tuple[int, int] | None = None  # line and column of a trailing or continued comment
        for token in _lark().lex(text, dont_ignore=True):
            if token.type == "WS":
                continue
            if token.type == "COMMENT":
                trailing = last_code_line == token.line
                continues = not trailing and chain == (token.line - 1, token.column)
                text_ = str(token.value).rstrip()
                comments.append(_Comment(text_, token.line, len(anchors) - 1, trailing, continues))
                chain = (token.line, token.column) if trailing or continues else None
                continue
            if token.value not in _UNANCHORED:
                anchors.append(_Tok(str(token.value), token.line, token.column, last_code_line))
            last_code_line = _end_line(token)
        return _Source(anchors, comments, last_code_line)

    def first_anchor(self, line: int, column: int) -> int:
        """Index of the first anchored token at or after a position."""
        return bisect.bisect_left(self._keys, (line, column))

    def blank_before(self, anchor: int) -> bool:
        """Whether the source has a blank line right after the code before token `anchor`, that
        is before the token or the first comment line above it. (A comment before a dropped `)`
        or `,` comes before that code, and is printed after it.)"""
        tok = self.anchors[anchor]
        own = [line for line in self._own_lines.get(anchor, []) if line > tok.prev_code_line]
        return (own[0] if own else tok.line) - tok.prev_code_line >= 2


def _end_line(token: Token) -> int:
    return token.end_line if token.end_line is not None else token.line


# ---------------------------------------------------------------- layout documents


@dataclass(eq=False, slots=True)
class Text:
    text: str
    anchor: int = -1  # index of the source token it prints; -1 for punctuation or padding
    inner: bool = False  # a closing bracket: comments before it are indented one level more


@dataclass(eq=False, slots=True)
class Line:
    """A space (nothing if `soft`) when its group fits on the line, else a line break."""

    soft: bool = False


@dataclass(eq=False, slots=True)
class IfBreak:
    text: str


@dataclass(eq=False, slots=True)
class Hard:
    """A line break between items; `blank` leaves one empty line."""

    blank: bool = False


@dataclass(eq=False, slots=True)
class Group:
    parts: list
    broken: bool = False  # set by `_measure`: holds a comment or a hard break


@dataclass(eq=False, slots=True)
class Align:
    """Line breaks inside continue at the column where this starts."""

    parts: list


@dataclass(eq=False, slots=True)
class Hang:
    """A line break that a comment forces inside continues at the column where this starts
    (an expression after its keyword); other line breaks keep their indentation."""

    parts: list


@dataclass(eq=False, slots=True)
class Indent:
    parts: list


Doc = str | Text | Line | IfBreak | Hard | Group | Align | Hang | Indent | list  # str: punctuation


def _measure(doc, gaps: set[int]) -> None:
    """Mark the groups that must break: those holding a hard line break, or a comment between
    two of their tokens. (Iterative: a deeply nested policy must not exhaust the stack.)"""
    gap_list = sorted(gaps)
    # Post-order walk; each frame collects (first anchor, last anchor, hard) of its parts.
    stack: list[tuple[object, list]] = [(doc, [])]
    while stack:
        node, done = stack[-1]
        parts = _parts(node)
        if len(done) < len(parts):
            child = parts[len(done)]
            if _parts(child):
                stack.append((child, []))
            else:
                done.append(_leaf(child))
            continue
        stack.pop()
        first = last = -1
        hard = False
        for f, la, h in done:
            if f >= 0:
                first = f if first < 0 else first
                last = la
            hard = hard or h
        if isinstance(node, Group):
            i = bisect.bisect_left(gap_list, first)
            node.broken = hard or (first >= 0 and i < len(gap_list) and gap_list[i] < last)
            hard = node.broken
        if stack:
            stack[-1][1].append((first, last, hard))


def _parts(doc) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, (Group, Align, Hang, Indent)):
        return doc.parts
    return []


def _leaf(doc) -> tuple[int, int, bool]:
    if isinstance(doc, Text):
        return doc.anchor, doc.anchor, False
    return -1, -1, isinstance(doc, Hard)


# ---------------------------------------------------------------- from the tree to a document


class _Builder:
    """Builds the document of a module, consuming the source's anchored tokens in order."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.next = 0

    def tok(self, expected: str | None = None, inner: bool = False) -> Text:
        if self.next >= len(self.source.anchors):
            raise FormatError(f"ran out of tokens looking for {expected!r}")
        tok = self.source.anchors[self.next]
        if expected is not None and tok.value != expected:
            raise FormatError(
                f"expected {expected!r} at {tok.line}:{tok.column}, found {tok.value!r}"
            )
        self.next += 1
        return Text(tok.value, self.next - 1, inner)

    def first_of(self, span) -> int:
        return self.source.first_anchor(span.line, span.column)

    # -- declarations
    def module(self, module: n.Module) -> list:
        decls = module.declarations
        starts = [self.first_of(d.span) for d in decls]
        blanks = [False] + [
            not (_is_binding(a) and _is_binding(b)) or self.source.blank_before(start)
            for a, b, start in zip(decls, decls[1:], starts[1:], strict=False)
        ]
        # Runs of `let`s (whose `=` line up) end at a blank line, as the blocks' runs do.
        breaks = [False] + [self.source.blank_before(start) for start in starts[1:]]
        let_width = _run_widths(
            [len(d.name) if isinstance(d, n.Let) else None for d in decls], breaks
        )
        parts: list = []
        for i, decl in enumerate(decls):
            if i:
                parts.append(Hard(blanks[i]))
            if isinstance(decl, n.PolicyHeader):
                parts.append(self.header(decl))
            elif isinstance(decl, n.Import):
                parts.append(self.import_(decl))
            elif isinstance(decl, n.Let):
                parts.append(self.let(decl, let_width[i] or len(decl.name)))
            else:
                parts.append(self.rule(decl))
        return parts

    def import_(self, decl: n.Import) -> list:
        return [self.tok("import"), " ", self.tok(), " ", self.tok("as"), " ", self.tok(decl.alias)]

    def let(self, decl: n.Let, width: int) -> list:
        head = [self.tok("let"), " ", self.tok(decl.name)]
        return [*head, Text(" " * (width - len(decl.name)) + " = "), Hang([self.expr(decl.expr)])]

    def header(self, decl: n.PolicyHeader) -> list:
        head = [self.tok("policy"), " ", self.tok(decl.name), " ", self.tok("{")]
        items = [(s.name, self.first_of(s.span), self._setting(s)) for s in decl.settings]
        return head + self.block(items)

    def rule(self, decl: n.Rule) -> list:
        head = [self.tok("rule"), " ", self.tok(decl.id), " ", self.tok("{")]
        items: list[tuple[str, int, object]] = []
        for meta in decl.meta:
            items.append((meta.name, self.first_of(meta.span), self._meta(meta)))
        for word, exprs in (("when", decl.whens), ("unless", decl.unlesses)):
            for expr in exprs:
                items.append((word, self.first_of(expr.span) - 1, self._clause(word, expr)))
        items.append((decl.effect.kind, self.first_of(decl.effect.span), self._effect(decl.effect)))
        if decl.hint is not None:
            items.append(("hint", self.first_of(decl.hint.span) - 1, self._hint))
        return head + self.block(items)

    def block(self, items: list[tuple[str, int, object]]) -> list:
        """`{ items }`: one item per line, keywords of a run padded to one width."""
        if not items:
            return [self.tok("}", inner=True)]
        blanks = [False] + [self.source.blank_before(start) for _, start, _ in items[1:]]
        widths = _run_widths([len(word) for word, _, _ in items], blanks)
        body: list = []
        for i, (word, _, build) in enumerate(items):
            body.append(Hard(blanks[i]))
            body.append(build(word, widths[i] or len(word)))  # type: ignore[operator]
        return [Indent(body), Hard(), self.tok("}", inner=True)]

    # Item builders take (keyword, pad width) and consume the item's tokens. A comment that
    # breaks a value continues it under its start (`Hang`).
    def _setting(self, setting: n.Setting):
        def build(word: str, width: int) -> list:
            head = [self.tok(word), _pad(word, width)]
            value: list = [self.tok()]
            if setting.name == "default" and setting.kinds is not None:
                value += [" ", self.tok("for"), " ", self.expr(setting.kinds)]
            return [*head, Hang(value)]

        return build

    def _meta(self, meta: n.Meta):
        def build(word: str, width: int) -> list:
            head = [self.tok(word), _pad(word, width)]
            if meta.name != "tags":
                return [*head, Hang([self.tok()])]
            opening = self.tok("[")
            tags = [self.tok() for _ in meta.value]  # type: ignore[attr-defined]
            return [*head, Hang([self._list_doc(tags, opening)])]

        return build

    def _clause(self, word: str, expr: n.Expr):
        def build(_: str, width: int) -> list:
            return [self.tok(word), _pad(word, width), Hang([self.expr(expr)])]

        return build

    def _effect(self, effect: n.Effect):
        def build(word: str, width: int) -> list:
            if effect.message is None:
                return [self.tok(word)]
            return [self.tok(word), _pad(word, width), Hang([self.tok()])]

        return build

    def _hint(self, word: str, width: int) -> list:
        return [self.tok("hint"), _pad(word, width), Hang([self.tok()])]

    # -- expressions
    def expr(self, expr: n.Expr, min_prec: int = 0):
        if _precedence(expr) < min_prec:
            return ["(", Align([self.expr(expr)]), ")"]
        if isinstance(expr, (n.Or, n.And)):
            return self._chain(expr)
        if isinstance(expr, n.Not):
            keyword = self.tok("not")
            if isinstance(expr.operand, n.Compare):
                return [keyword, " (", Align([self.expr(expr.operand)]), ")"]
            return [keyword, " ", self.expr(expr.operand, _NOT)]
        if isinstance(expr, n.Compare):
            left = self.expr(expr.left, _POSTFIX)
            op = [self.tok(word) for word in expr.op.split()]
            op_doc = [op[0], " ", op[1]] if len(op) == 2 else op
            return [left, " ", *op_doc, " ", self.expr(expr.right, _POSTFIX)]
        if isinstance(expr, n.Field):
            return [self.expr(expr.obj, _POSTFIX), ".", self.tok(expr.name)]
        if isinstance(expr, n.Index):
            obj = self.expr(expr.obj, _POSTFIX)
            return [obj, self.tok("["), self.expr(expr.index), self.tok("]")]
        if isinstance(expr, n.Call):
            name = self.tok(expr.func)
            args: list = []
            for i, arg in enumerate(expr.args):
                if i:
                    args += [",", Line()]
                args.append(self.expr(arg))
            return Group([name, "(", Align(args), ")"])
        if isinstance(expr, n.Quantifier):
            kind = self.tok(expr.kind)
            var = self.tok(expr.var)
            within = self.tok("in")
            source = self.expr(expr.source, _OR)
            body = self.expr(expr.body)
            return Group(
                [kind, "(", Align([var, " ", within, " ", source, ":", Line(), body]), ")"]
            )
        if isinstance(expr, n.ListLiteral):
            opening = self.tok("[")
            items = []
            for item in expr.items:  # a loop, not a comprehension: one frame less per level
                items.append(self.expr(item))
            return self._list_doc(items, opening)
        if isinstance(expr, n.ActivityRef):
            return self.tok("activity")
        if isinstance(expr, n.Name):
            return self.tok(expr.name)
        return self.tok()  # a literal, exactly as written

    def _chain(self, expr: n.Or | n.And):
        """`a or b or c` (left-nested in the tree): one group, broken before each operator."""
        word, level = ("or", _OR) if isinstance(expr, n.Or) else ("and", _AND)
        kind = type(expr)
        operands: list[n.Expr] = []
        node: n.Expr = expr
        while isinstance(node, kind):
            operands.append(node.right)  # type: ignore[union-attr]
            node = node.left  # type: ignore[union-attr]
        operands.append(node)
        operands.reverse()
        parts: list = [self._operand(operands[0], level)]
        for operand in operands[1:]:
            keyword = self.tok(word)
            parts += [Line(), keyword, " ", self._operand(operand, level + 1)]
        return Group([Align(parts)])

    def _operand(self, expr: n.Expr, min_prec: int):
        # `a or (b and c)` keeps its parentheses: mixed chains read wrongly without them.
        if min_prec <= _AND and isinstance(expr, n.And):
            return ["(", Align([self.expr(expr)]), ")"]
        return self.expr(expr, min_prec)

    def _list_doc(self, items: list, opening: Text | None = None):
        opening = opening if opening is not None else self.tok("[")
        if not items:
            return [opening, self.tok("]", inner=True)]
        body: list = [Line(soft=True)]
        for i, item in enumerate(items):
            if i:
                body += [",", Line()]
            body.append(item)
        body.append(IfBreak(","))
        return Group([opening, Indent(body), Line(soft=True), self.tok("]", inner=True)])


def _is_binding(decl: n.Declaration) -> bool:
    return isinstance(decl, (n.Let, n.Import))


def _pad(word: str, width: int) -> Text:
    return Text(" " * (width - len(word) + 1))


def _run_widths(lengths: list[int | None], blanks: list[bool]) -> list[int | None]:
    """For each item, the widest length in its run: items not separated by a blank line or by an
    item without a length."""
    out: list[int | None] = [None] * len(lengths)
    run: list[int] = []

    def close() -> None:
        for k in run:
            out[k] = max(lengths[j] or 0 for j in run)
        run.clear()

    for i, length in enumerate(lengths):
        if length is None or blanks[i]:
            close()
        if length is not None:
            run.append(i)
    close()
    return out


def _precedence(expr: n.Expr) -> int:
    if isinstance(expr, n.Or):
        return _OR
    if isinstance(expr, n.And):
        return _AND
    if isinstance(expr, n.Not):
        return _NOT
    if isinstance(expr, n.Compare):
        return _COMPARE
    return _POSTFIX


# ---------------------------------------------------------------- printing


@dataclass(slots=True)
class _Out:
    """One output line: code and a trailing comment, or a comment on its own."""

    indent: int
    code: str = ""
    comment: str | None = None  # after the code
    own: str | None = None  # a comment line
    continues: bool = False  # a comment line continuing the trailing comment above
    comment_column: int = 0

    @property
    def empty(self) -> bool:
        return not self.code and self.comment is None and self.own is None


class _Printer:
    def __init__(self, source: _Source) -> None:
        self.anchors = source.anchors
        self.comments = source.comments
        self.last_code_line = source.last_code_line
        self.lines: list[_Out] = [_Out(0)]
        self.next_comment = 0
        self.suffix: str | None = None  # a trailing comment waiting for the end of the line
        self.pending_break = False  # the next code goes on a new line
        self.last_comment_line = 0

    # -- lines
    @property
    def cur(self) -> _Out:
        return self.lines[-1]

    def column(self) -> int:
        return self.cur.indent + len(self.cur.code)

    def newline(self, indent: int, blank: bool = False) -> None:
        self.flush_suffix()
        self.pending_break = False
        if self.cur.empty:
            self.cur.indent = indent
        else:
            self.lines.append(_Out(indent))
        if blank and len(self.lines) >= 2 and not self.lines[-2].empty:
            self.lines.insert(len(self.lines) - 1, _Out(0))

    def write(self, text: str, indent: int) -> None:
        if self.pending_break:
            self.newline(indent)
        self.cur.code += text

    def flush_suffix(self) -> None:
        if self.suffix is not None:
            self.cur.comment = self.suffix
            self.suffix = None

    # -- comments
    def before_anchor(self, anchor: int, indent: int, comment_indent: int) -> None:
        """Print the comments that come before source token `anchor`."""
        at_line_start = self.cur.empty and not self.pending_break
        if at_line_start:
            indent = self.cur.indent  # the token starts a line anyway: keep that line's indent
        own = False
        while self.next_comment < len(self.comments):
            comment = self.comments[self.next_comment]
            if comment.prev_anchor >= anchor:
                break
            self.next_comment += 1
            if (
                comment.trailing
                and self.suffix is None
                and self.cur.code
                and not self.pending_break
            ):
                self.suffix = comment.text
                continue
            self.own_line(comment, comment_indent, own)
            own = True
        if self.suffix is not None:
            self.flush_suffix()
            self.pending_break = True
        if self.pending_break:
            gap = own and self.anchors[anchor].line - self.last_comment_line >= 2
            self.newline(indent, blank=gap)

    def own_line(self, comment: _Comment, indent: int, after_comment: bool) -> None:
        self.flush_suffix()
        above: _Out | None
        if self.cur.empty:
            above = self.lines[-2] if len(self.lines) >= 2 else None
            self.cur.indent = indent
        else:
            above = self.cur
            if after_comment and comment.line - self.last_comment_line >= 2:
                self.lines.append(_Out(0))
                above = None
            self.lines.append(_Out(indent))
        self.cur.own = comment.text
        self.cur.continues = (
            comment.continues
            and above is not None
            and (above.comment is not None or above.continues)
        )
        self.last_comment_line = comment.line
        self.pending_break = True

    def after_anchor(self, anchor: int) -> None:
        """Hold the comment that ends the source line of token `anchor` until the line ends."""
        if self.next_comment < len(self.comments) and self.suffix is None:
            comment = self.comments[self.next_comment]
            if comment.prev_anchor == anchor and comment.trailing:
                self.suffix = comment.text
                self.next_comment += 1

    def finish(self) -> None:
        """The comments after the last token."""
        self.flush_suffix()
        own = False
        while self.next_comment < len(self.comments):
            comment = self.comments[self.next_comment]
            self.next_comment += 1
            if comment.trailing and not own and self.cur.code and self.cur.comment is None:
                self.cur.comment = comment.text
                continue
            if not own and comment.line - self.last_code_line >= 2:
                self.newline(0, blank=True)
            self.own_line(comment, 0, own)
            own = True

    # -- documents
    def print(self, doc) -> None:
        # indent: where broken lines continue; hang: where a comment forces a break
        stack: list[tuple[int, int, bool, object]] = [(0, 0, True, doc)]
        while stack:
            indent, hang, broken, item = stack.pop()
            if isinstance(item, list):
                stack.extend((indent, hang, broken, part) for part in reversed(item))
            elif isinstance(item, str):
                self.write(item, hang)
            elif isinstance(item, Text):
                if item.anchor >= 0:
                    inner = indent + INDENT if item.inner else hang
                    self.before_anchor(item.anchor, hang, inner)
                self.write(item.text, hang)
                if item.anchor >= 0:
                    self.after_anchor(item.anchor)
            elif isinstance(item, Line):
                if broken:
                    self.newline(indent)
                elif not item.soft:
                    self.write(" ", hang)
            elif isinstance(item, IfBreak):
                if broken:
                    self.write(item.text, hang)
            elif isinstance(item, Hard):
                self.newline(indent, blank=item.blank)
            elif isinstance(item, Group):
                flat = not item.broken and self.fits(item, stack)
                stack.append((indent, hang, not flat, item.parts))
            elif isinstance(item, Align):
                column = hang if self.pending_break else self.column()
                stack.append((column, column, broken, item.parts))
            elif isinstance(item, Hang):
                column = hang if self.pending_break else self.column()
                stack.append((indent, column, broken, item.parts))
            elif isinstance(item, Indent):
                stack.append((indent + INDENT, indent + INDENT, broken, item.parts))

    def fits(self, group: Group, rest: list) -> bool:
        """Whether `group`, flat, and what follows it up to the next line break fit the width."""
        width = WIDTH - self.column()
        todo: list[tuple[bool, object]] = [(False, group.parts)]
        rest_index = len(rest)
        while width >= 0:
            if not todo:
                if rest_index == 0:
                    return True
                rest_index -= 1
                todo.append((rest[rest_index][2], rest[rest_index][3]))
                continue
            broken, item = todo.pop()
            if isinstance(item, list):
                todo.extend((broken, part) for part in reversed(item))
            elif isinstance(item, str):
                width -= len(item)
            elif isinstance(item, Text):
                width -= len(item.text)
            elif isinstance(item, Line):
                if broken:
                    return True
                width -= 0 if item.soft else 1
            elif isinstance(item, IfBreak):
                width -= len(item.text) if broken else 0
            elif isinstance(item, Hard):
                return True
            elif isinstance(item, Group):
                todo.append((item.broken, item.parts))
            else:
                todo.append((broken, item.parts))  # type: ignore[attr-defined]
        return False

    # -- result
    def text(self) -> str:
        _align_trailing_comments(self.lines)
        out: list[str] = []
        for line in self.lines:
            if line.own is not None:
                out.append(" " * line.indent + line.own)
            elif line.code or line.comment is not None:
                code = (" " * line.indent + line.code).rstrip()
                if line.comment is not None:
                    code += " " * max(2, line.comment_column - len(code)) + line.comment
                out.append(code)
            else:
                out.append("")
        while out and not out[-1]:
            out.pop()
        while out and not out[0]:
            out.pop(0)
        return "\n".join(out) + "\n" if out else ""


def _align_trailing_comments(lines: list[_Out]) -> None:
    """Trailing comments of consecutive lines share a column, and continued comments follow."""
    i = 0
    while i < len(lines):
        if lines[i].comment is None:
            i += 1
            continue
        j = i
        while j < len(lines) and (lines[j].comment is not None or lines[j].continues):
            j += 1
        column = 2 + max(
            len((" " * lines[k].indent + lines[k].code).rstrip())
            for k in range(i, j)
            if lines[k].comment is not None
        )
        for k in range(i, j):
            if lines[k].continues:
                lines[k].indent = column
            else:
                lines[k].comment_column = column
        i = j


# ---------------------------------------------------------------- the safety net


def _verify(module: n.Module, source: _Source, result: str, filename: str) -> None:
    try:
        again = parse_module(result, filename)
    except ParseFailed as failed:
        if any(d.code == "too-deep" for d in failed.diagnostics):
            raise ParseFailed([_too_deep(filename)]) from None
        raise FormatError(f"formatted text does not parse: {failed}") from None
    if not same_tree(module, again):
        raise FormatError("formatting would change the meaning of the file")
    after = _Source.lex(result)
    if [c.text for c in after.comments] != [c.text for c in source.comments]:
        raise FormatError("formatting would lose or reorder a comment")


_POSITION_FIELDS = frozenset(
    {"span", "name_span", "id_span", "path_span", "alias_span", "value_span", "var_span", "file"}
)


def same_tree(a: object, b: object) -> bool:
    """Whether two parsed trees are the same, ignoring source positions and file names."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            if type(x) is not type(y):
                return False
            for f in dataclasses.fields(x):
                if f.name not in _POSITION_FIELDS:
                    stack.append((getattr(x, f.name), getattr(y, f.name)))
        elif isinstance(x, (tuple, list)):
            if not isinstance(y, (tuple, list)) or len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif type(x) is not type(y) or x != y:
            return False
    return True
