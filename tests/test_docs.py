"""Every example in the documentation runs, so the docs cannot drift from the engine.

Each fenced block in `docs/language.md`, `docs/getting-started.md`, `docs/embedding.md` and
`docs/editors.md` is run in order, per document, in a fresh working directory. The info string
names the kind of block, then words and `key=value` attributes:

- ```smr``` a complete policy that must load; `error=CODE`: it must fail to load with a
  diagnostic of that code. It becomes the *current policy*.
- ```smr file=PATH```, ```yaml file=PATH```, ```json file=PATH```: a file of a multi-file
  example, written to PATH under the working directory. A run of such blocks with no text
  between them is one example:
  after its last block the policy is loaded (`policy=DIR` names it; default: the shallowest
  directory holding one of its `.smr` files, the last such) and becomes the current policy;
  `error=CODE` on any of its blocks expects that load error instead, and its `*.test.yaml`
  files are run with `smrules test` and must pass (must fail, for one marked `fails`).
- ```smr-expr```: one expression per line, each evaluated against the current policy and
  activity at NOW and required to be `true` (`policy=DIR`: a policy loaded before instead).
  `error=CODE`: each fails to compile with that code; `error=runtime`: each fails while
  evaluating. Lines starting with `#` are comments.
- ```yaml activity``` / ```json activity```: sets the activity for expressions. With
  `decision=D` it is instead evaluated with the current policy and the decision checked;
  `rules=a,b` checks the rules that count (`rules=` for none); `error=invalid` expects an
  `ActivityError`; `policy=DIR` as above.
- ```console```: `$ command` lines, each followed by lines expected in its output, in order
  (other output lines may come between; `...` inside a line matches anything). ```sh```:
  commands only. `exit=N`: every command exits N (default 0). `smrules ...` runs in-process
  (`> FILE` at the end writes its standard output to FILE); `cd DIR` moves; `mkdir -p` makes
  directories; `pip install ...`, `python -m pip install ...`, `python -m pytest` and
  `pre-commit install` are not run here (tests/test_packaging.py installs the package and
  tests/test_precommit.py runs pre-commit for real).
- ```python```: executed; ```pycon```: a doctest session. Both share one namespace per
  document and run in the working directory.
- ```yaml scaffold=PATH``` (and `smr`, `json`): must equal `smrules init`'s file at PATH;
  ```json repo=PATH``` (and `yaml`): must equal the repository's file at PATH.
- ```json schema=NAME``` / ```yaml schema=NAME```: must be valid for a shipped schema NAME
  (`activity`, `policy-test`, `decision`) or one in `editors/schemas/` (`waivers`,
  `lexicon`); on a `file=` block, the file is also checked.
- ```text```: not run: syntax outlines and screen output that cannot be reproduced.
"""

from __future__ import annotations

import datetime as dt
import doctest
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import smrules
from smrules.builtins import ARITY
from smrules.cli import main
from smrules.parser import RESERVED
from smrules.values import EvalError
from smrules.yamlio import yaml_load

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["language.md", "getting-started.md", "embedding.md", "editors.md"]
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)
DEFAULT_ACTIVITY: dict = {"kind": "post", "actor": {"id": "e1"}}
NOT_RUN = (
    ("pip", "install"),
    ("python", "-m", "pip", "install"),
    ("python", "-m", "pytest"),
    ("pre-commit", "install"),
)
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,})(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    words: frozenset[str]
    attrs: dict[str, str]
    text: str
    after_prose: bool = False  # text stands between this block and the one before

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their info strings parsed."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    prose = False
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose = prose or bool(lines[i].strip())
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        info = shlex.split(m["info"].strip())
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^ {{0,3}}{fence}`*\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        assert j < len(lines), f"{path.name}:{i + 1}: unclosed code block"
        lang, *rest = info or ["text"]
        words = frozenset(w for w in rest if "=" not in w)
        attrs = dict(w.split("=", 1) for w in rest if "=" in w)
        text = "\n".join(body) + ("\n" if body else "")
        blocks.append(Block(path.name, i + 1, lang, words, attrs, text, prose))
        prose = False
        i = j + 1
    return blocks


# ------------------------------------------------------------------------------- running


@dataclass
class DocRun:
    """Runs one document's blocks in order, keeping the current policy, activity and cwd."""

    workdir: Path
    monkeypatch: pytest.MonkeyPatch
    policy: smrules.Policy | None = None
    activity: dict = field(default_factory=lambda: dict(DEFAULT_ACTIVITY))
    group: list[Block] = field(default_factory=list)
    namespace: dict = field(default_factory=dict)
    standalone: int = 0
    loaded: dict[str, tuple[Path, smrules.Policy]] = field(default_factory=dict)
    _root: Path | None = None
    default_exit: frozenset[int] = frozenset({0})

    def __post_init__(self) -> None:
        self.monkeypatch.chdir(self.workdir)

    def run(self, blocks: list[Block]) -> None:
        for block in blocks:
            if "file" not in block.attrs or block.after_prose:
                self.finish_group()
            handler = getattr(self, "run_" + block.lang.replace("-", "_"), None)
            assert handler is not None, f"{block.where}: no way to run a `{block.lang}` block"
            handler(block)
        self.finish_group()

    # -- policies
    def run_smr(self, block: Block) -> None:
        if "file" in block.attrs:
            self.add_file(block)
        elif "scaffold" in block.attrs:
            self.check_scaffold(block)
        else:
            self.standalone += 1
            root = self.workdir / f".example-{self.standalone}"
            root.mkdir()
            (root / "main.smr").write_text(block.text, encoding="utf-8")
            self.load(root, [block])

    def add_file(self, block: Block) -> None:
        first = block.text.split("\n", 1)[0]
        if first.startswith("# ") and "/" in first and " " not in first[2:].strip():
            # a `# path` label shown to readers must name the file it heads
            assert first[2:].strip() == block.attrs["file"], f"{block.where}: labelled {first}"
        path = Path.cwd() / block.attrs["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
        self.group.append(block)

    def finish_group(self) -> None:
        if not self.group:
            return
        group, self.group = self.group, []
        policy_dirs = [b.attrs["policy"] for b in group if "policy" in b.attrs]
        smr = [Path(b.attrs["file"]).parent for b in group if b.attrs["file"].endswith(".smr")]
        if policy_dirs:
            root = Path.cwd() / policy_dirs[-1]
        elif smr:
            depth = min(len(p.parts) for p in smr)
            root = Path.cwd() / [p for p in smr if len(p.parts) == depth][-1]
        elif self.policy is not None:
            root = None  # only data files changed: reload the current policy
        else:
            return
        loaded = self.load(root, group)
        if loaded:
            for b in group:
                if b.attrs["file"].endswith(".test.yaml"):
                    result = invoke(["test", b.attrs["file"]])
                    want = 1 if "fails" in b.words else 0
                    assert result.exit_code == want, (
                        f"{b.where}: exit {result.exit_code}, not {want}:\n{result.output}"
                    )

    def load(self, root: Path | None, group: list[Block]) -> bool:
        if root is None:
            root = self._root
        expected = next((b.attrs["error"] for b in group if "error" in b.attrs), None)
        where = group[-1].where
        try:
            policy = smrules.load(root, cache=False)
        except smrules.PolicyError as err:
            codes = [d.code for d in err.diagnostics]
            assert expected is not None, f"{where}: the example does not load:\n{err.render()}"
            assert expected in codes, f"{where}: expected error {expected}, got:\n{err.render()}"
            return False
        assert expected is None, f"{where}: loads, but the text says it fails with {expected}"
        self.policy, self._root = policy, root
        self.loaded[root.relative_to(self.workdir).as_posix()] = (root, policy)
        return True

    def select(self, block: Block) -> None:
        """`policy=DIR` on an expression or activity block: use a policy loaded before."""
        name = block.attrs.get("policy")
        if name is not None:
            assert name in self.loaded, f"{block.where}: no policy `{name}` was loaded"
            self._root, self.policy = self.loaded[name]

    # -- expressions and activities
    def run_smr_expr(self, block: Block) -> None:
        self.select(block)
        assert self.policy is not None, f"{block.where}: no policy loaded before this block"
        expected = block.attrs.get("error")
        lines = [
            (f"{block.doc}:{block.line + offset}: `{raw.strip()}`", raw.strip())
            for offset, raw in enumerate(block.text.splitlines(), start=1)
            if raw.strip() and not raw.strip().startswith("#")
        ]
        if expected is None or expected == "runtime":
            # As part of the policy, with every load-time check, before evaluating each one.
            err = self.load_with(line for _, line in lines)
            assert err is None, f"{block.where}: does not load in a policy:\n{err and err.render()}"
        for where, line in lines:
            if expected is None:
                value = self.value(line, where)
                assert value is True, f"{where}: gives {value!r}, not true"
            elif expected == "runtime":
                try:
                    self.policy.expression(line)(self.activity, NOW)
                except EvalError:
                    continue
                raise AssertionError(f"{where}: evaluates without a run-time error")
            else:
                err = self.load_with([line])
                assert err is not None, f"{where}: loads, but the text says {expected}"
                codes = [d.code for d in err.diagnostics]
                assert expected in codes, f"{where}: expected {expected}, got\n{err.render()}"

    def load_with(self, lines) -> smrules.PolicyError | None:
        """Load the current policy with `let`s of these expressions added to its last file."""
        assert self.policy is not None and self._root is not None
        path = self._root / self.policy.program.modules[-1].file
        original = path.read_text(encoding="utf-8")
        extra = "".join(f"\nlet doc_example_{i} = {line}\n" for i, line in enumerate(lines))
        path.write_text(original + extra, encoding="utf-8")
        try:
            smrules.load(self._root, cache=False)
        except smrules.PolicyError as err:
            return err
        finally:
            path.write_text(original, encoding="utf-8")
        return None

    def value(self, text: str, where: str) -> object:
        assert self.policy is not None
        try:
            return self.policy.expression(text)(self.activity, NOW)
        except smrules.PolicyError as err:
            raise AssertionError(f"{where}: does not compile:\n{err.render()}") from None
        except EvalError as err:
            raise AssertionError(f"{where}: fails at run time: {err.message}") from None

    def run_yaml(self, block: Block) -> None:
        if "file" in block.attrs:  # written as it is: it may be wrong on purpose
            self.add_file(block)
            if "schema" in block.attrs:
                self.check_schema(block, yaml_load(block.text, block.where))
        else:
            self.data_block(block, yaml_load(block.text, block.where))

    def run_json(self, block: Block) -> None:
        if "file" in block.attrs:
            self.add_file(block)
            if "schema" in block.attrs:
                self.check_schema(block, json.loads(block.text))
        else:
            self.data_block(block, json.loads(block.text))

    def check_schema(self, block: Block, value: object) -> None:
        errors = list(
            jsonschema.Draft202012Validator(load_schema(block.attrs["schema"])).iter_errors(value)
        )
        assert not errors, (
            f"{block.where}: not a valid {block.attrs['schema']}: {errors[0].message}"
        )

    def data_block(self, block: Block, value: object) -> None:
        if "repo" in block.attrs:
            path = ROOT / block.attrs["repo"]
            assert path.is_file(), f"{block.where}: the repository has no {block.attrs['repo']}"
            assert block.text == path.read_text(encoding="utf-8"), (
                f"{block.where}: differs from the repository's {block.attrs['repo']}"
            )
        elif "scaffold" in block.attrs:
            self.check_scaffold(block)
        elif "schema" in block.attrs:
            self.check_schema(block, value)
        elif "activity" in block.words:
            assert isinstance(value, dict), f"{block.where}: an activity is a mapping"
            if {"decision", "rules", "error"} & set(block.attrs):
                self.check_activity(block, value)
            else:
                self.activity = value
        else:
            raise AssertionError(
                f"{block.where}: a data block needs file=, activity, scaffold= or schema="
            )

    def check_activity(self, block: Block, activity: dict) -> None:
        self.select(block)
        assert self.policy is not None, f"{block.where}: no policy loaded before this block"
        if block.attrs.get("error") == "invalid":
            try:
                self.policy.evaluate(activity, now=NOW)
            except smrules.ActivityError:
                return
            raise AssertionError(f"{block.where}: the activity is valid")
        decision = self.policy.evaluate(activity, now=NOW)
        shown = decision.to_json(indent=2)
        if "decision" in block.attrs:
            want = block.attrs["decision"]
            got = decision.decision
            assert got == want, f"{block.where}: decision {got}, not {want}:\n{shown}"
        if "rules" in block.attrs:
            rules = sorted(r for r in block.attrs["rules"].split(",") if r)
            counted = sorted(decision.counted_rules)
            assert counted == rules, f"{block.where}: rules {counted}, not {rules}:\n{shown}"

    def check_scaffold(self, block: Block) -> None:
        from smrules.commands.init import scaffold_files

        files = {f.path: f.text for f in scaffold_files()}
        path = block.attrs["scaffold"]
        assert path in files, f"{block.where}: `smrules init` writes no {path}"
        assert block.text == files[path], f"{block.where}: differs from the scaffold's {path}"

    # -- commands and Python
    def run_console(self, block: Block) -> None:
        self.commands(block, with_output=True)

    def run_sh(self, block: Block) -> None:
        self.commands(block, with_output=False)

    def commands(self, block: Block, with_output: bool) -> None:
        exits = {int(block.attrs["exit"])} if "exit" in block.attrs else self.default_exit
        steps: list[tuple[str, list[str]]] = []
        for raw in block.text.splitlines():
            if with_output and not raw.startswith("$ "):
                if steps:
                    steps[-1][1].append(raw)
                continue
            command = raw[2:] if raw.startswith("$ ") else raw
            if command.strip() and not command.lstrip().startswith("#"):
                steps.append((command, []))
        assert steps, f"{block.where}: no command in the block"
        for command, expected in steps:
            output = ""
            for words in split_and(shlex.split(command, comments=True)):
                output += self.command(words, exits, f"{block.where}: `{command}`")
            if with_output:
                assert_lines_in_order(expected, output, f"{block.where}: `{command}`")

    def command(self, words: list[str], exits: frozenset[int] | set[int], where: str) -> str:
        if words[0] == "cd":
            os.chdir(words[1])
            return ""
        if words[:2] == ["mkdir", "-p"]:
            for name in words[2:]:
                Path(name).mkdir(parents=True, exist_ok=True)
            return ""
        target = None
        if len(words) > 2 and words[-2] == ">":
            words, target = words[:-2], Path(words[-1])
        if any(tuple(words[: len(prefix)]) == prefix for prefix in NOT_RUN):
            return ""
        assert words[0] == "smrules", f"{where}: only smrules commands run in the docs"
        result = invoke(words[1:])
        assert "Traceback" not in result.output, f"{where}:\n{result.output}"
        assert result.exit_code in exits, f"{where}: exit {result.exit_code}\n{result.output}"
        if target is not None:
            target.write_text(result.stdout, encoding="utf-8")
            return result.stderr
        return result.output

    def run_python(self, block: Block) -> None:
        code = compile(block.text, f"{block.doc} line {block.line}", "exec")
        exec(code, self.namespace)  # noqa: S102 - the documentation's own examples

    def run_pycon(self, block: Block) -> None:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.text, self.namespace, block.where, block.doc, block.line)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        runner = doctest.DocTestRunner(optionflags=flags)
        out: list[str] = []
        runner.run(test, out=out.append, clear_globs=False)
        self.namespace.update(test.globs)  # the doctest ran on a copy
        assert runner.failures == 0, "".join(out)

    def run_text(self, block: Block) -> None:
        """Not run: outlines of syntax and output that cannot be reproduced."""


def invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def split_and(words: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def assert_lines_in_order(expected: list[str], output: str, where: str) -> None:
    actual = [line.rstrip() for line in output.splitlines()]
    position = 0
    for want in (line.rstrip() for line in expected):
        if not want.strip() or want.strip() == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        for index in range(position, len(actual)):
            if pattern.fullmatch(actual[index]):
                position = index + 1
                break
        else:
            raise AssertionError(f"{where}: output lacks the line\n  {want}\nin\n{output}")


def load_schema(name: str) -> dict:
    local = ROOT / "editors" / "schemas" / f"{name}.schema.json"
    if local.is_file():
        return json.loads(local.read_text(encoding="utf-8"))
    from smrules.schemas import load_schema as shipped

    return shipped(name)


# ------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("doc", DOCS)
def test_every_example_in_the_docs_runs(doc, tmp_path, monkeypatch):
    DocRun(tmp_path, monkeypatch).run(parse_blocks(ROOT / "docs" / doc))


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    readme = ROOT / "README.md"
    quick_start = readme.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    quick_start = quick_start.split("\n## ", 1)[0]
    blocks = [b for b in parse_blocks(readme) if b.lang == "sh" and b.text in quick_start]
    assert blocks, "the README has a quick start"
    # It checks a draft against the bundled policy (no ./policies here): any decision will do.
    DocRun(tmp_path, monkeypatch, default_exit=frozenset({0, 1})).run(blocks)


def test_readme_python_example_runs(monkeypatch, capsys):
    blocks = [b for b in parse_blocks(ROOT / "README.md") if b.lang == "python"]
    assert blocks
    monkeypatch.chdir(ROOT)  # it loads the repository's policies/
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.text, f"README.md line {block.line}", "exec"), namespace)  # noqa: S102
    decision = namespace["decision"]
    assert capsys.readouterr().out.splitlines()[0] == decision.decision == "deny"


def run_text_of(doc: str) -> str:
    """The text of a document's blocks that the suite runs."""
    run = {"smr", "smr-expr", "yaml", "json", "console", "sh", "python", "pycon"}
    return "\n".join(b.text for b in parse_blocks(ROOT / "docs" / doc) if b.lang in run)


def test_reference_has_a_run_example_for_every_function():
    text = run_text_of("language.md")
    missing = [name for name in ARITY if not re.search(rf"\b{name}\(", text)]
    assert not missing, f"docs/language.md has no example calling {missing}"


def test_reference_has_a_run_example_for_every_keyword_and_operator():
    text = run_text_of("language.md")
    grammar = (ROOT / "src/smrules/grammar.lark").read_text(encoding="utf-8")
    words = set(RESERVED)
    words |= set(re.findall(r'^[A-Z_]+: "([a-z_]+)"$', grammar, flags=re.M))
    operators = re.search(r"!comp_op:(.*?)\n\n", grammar, flags=re.S)
    assert operators
    symbols = set(re.findall(r'"([^"]+)"', operators.group(1)))
    missing = sorted(
        w
        for w in words | symbols
        if not re.search(rf"(?<![\w<>=!]){re.escape(w)}(?![\w<>=])", text)
    )
    assert not missing, f"docs/language.md has no run example using {missing}"


def test_reference_shows_every_load_error_it_lists():
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    table = doc.split("## Load errors", 1)[1]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.M))
    assert len(listed) > 20
    shown = {b.attrs.get("error") for b in parse_blocks(ROOT / "docs" / "language.md")}
    assert listed - shown == set(), f"codes listed without an example: {listed - shown}"


def test_a_wrong_example_fails(tmp_path, monkeypatch):
    """The runner itself: a doc whose example is wrong must fail, whatever the block kind."""
    wrong = {
        '```smr\nrule r {\n  when kind == \n  deny "x"\n}\n```\n': "does not load",
        '```smr error=unknown-name\nrule r {\n  deny "x"\n}\n```\n': "loads, but",
        '```smr\nrule r {\n  deny "x"\n}\n```\n```smr-expr\nlen("ab") == 3\n```\n': "not true",
        '```smr\nrule r {\n  deny "x"\n}\n```\n```yaml activity decision=allow\n'
        "kind: post\nactor: {id: e1}\n```\n": "deny",
        "```console\n$ smrules schema activity\nno such line\n```\n": "lacks the line",
        "```pycon\n>>> 1 + 1\n3\n```\n": "Expected",
        "```yaml scaffold=policies/main.smr\na: 1\n```\n": "differs",
        "```toml\nx = 1\n```\n": "no way to run",
    }
    for index, (text, message) in enumerate(wrong.items()):
        doc = tmp_path / f"wrong{index}.md"
        doc.write_text(text, encoding="utf-8")
        work = tmp_path / f"work{index}"
        work.mkdir()
        with pytest.raises(AssertionError, match=message):
            DocRun(work, monkeypatch).run(parse_blocks(doc))


def test_expressions_compiled_after_others_still_read_the_activity(tmp_path):
    """`Policy.expression` (which the runner uses) after many earlier compilations."""
    (tmp_path / "main.smr").write_text('rule r {\n  deny "x"\n}\n', encoding="utf-8")
    policy = smrules.load(tmp_path, cache=False)
    act = {"kind": "post", "actor": {"id": "e1"}, "time": "2026-11-16T09:30:00Z"}
    for text in ['domain("x")', 'pii("a@b.de")', 'near("a b", ["a"], ["b"], 1)', 'sha256("a")']:
        policy.expression(text)(act)
    assert policy.expression("hour(time)")(act) == 9
