"""The command-line docs stay true: docs/cli.md matches `--help`, docs/errors.md lists every
error code the source can emit."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "smrules"
ERRORS_DOC = ROOT / "docs" / "errors.md"
CODE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")
CONSTRUCTORS = {"Diagnostic": 0}  # dataclass: `code` is its first field


def _code_params(tree: ast.Module) -> tuple[dict[str, set[int]], set[str]]:
    """Functions of a module taking a `code` parameter: its positional index by function name
    (`self`/`cls` not counted; a class stands for its `__init__`), and the string defaults."""
    positions: dict[str, set[int]] = {}
    defaults: set[str] = set()

    def visit(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [a.arg for a in (*child.args.posonlyargs, *child.args.args)]
                if "code" in args:
                    index = args.index("code")
                    if args and args[0] in ("self", "cls"):
                        index -= 1
                    name = owner if child.name == "__init__" and owner else child.name
                    positions.setdefault(name, set()).add(index)
                    first_default = len(args) - len(child.args.defaults)
                    at = args.index("code")
                    if at >= first_default:
                        value = child.args.defaults[at - first_default]
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            defaults.add(value.value)
                visit(child, owner)

    visit(tree, None)
    return positions, defaults


def _constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def source_error_codes() -> dict[str, str]:
    """Every diagnostic code written in the source, with a module that uses it."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SRC.rglob("*.py")}
    global_positions: dict[str, set[int]] = dict.fromkeys(CONSTRUCTORS, set())
    for name, index in CONSTRUCTORS.items():
        global_positions[name] = {index}
    found: dict[str, str] = {}
    local: dict[Path, dict[str, set[int]]] = {}
    for path, tree in trees.items():
        positions, defaults = _code_params(tree)
        local[path] = positions
        for name, indexes in positions.items():
            if name[:1].isupper():  # a class: callable from other modules
                global_positions.setdefault(name, set()).update(indexes)
        for code in defaults:
            found.setdefault(code, path.name)
    for path, tree in trees.items():
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            indexes = local[path].get(name) or global_positions.get(name)
            if not indexes:
                continue
            candidates = [node.args[i] for i in indexes if i < len(node.args)]
            candidates += [kw.value for kw in node.keywords if kw.arg == "code"]
            for arg in candidates:
                value = None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    value = arg.value
                elif isinstance(arg, ast.Name):
                    value = constants.get(arg.id)
                if value is not None and CODE.match(value):
                    found.setdefault(value, path.name)
    return found


def documented_codes() -> list[str]:
    text = ERRORS_DOC.read_text(encoding="utf-8")
    return re.findall(r"^### `([a-z0-9-]+)`", text, flags=re.MULTILINE)


def test_every_error_code_in_the_source_is_documented():
    codes = source_error_codes()
    missing = sorted(set(codes) - set(documented_codes()))
    assert not missing, "undocumented codes (add them to docs/errors.md): " + ", ".join(
        f"{c} ({codes[c]})" for c in missing
    )


def test_every_documented_code_exists_once():
    documented = documented_codes()
    assert len(documented) == len(set(documented)), "a code is documented twice"
    stale = sorted(set(documented) - set(source_error_codes()))
    assert not stale, f"documented codes no longer in the source: {stale}"


def test_every_documented_code_has_an_example_and_a_fix():
    text = ERRORS_DOC.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    for section in sections:
        code = section.split("`")[1]
        assert "```" in section, f"{code}: no example"
        assert "**Fix:**" in section, f"{code}: no fix"


def test_the_code_finder_finds_codes_in_every_form():
    """Guard the guard: codes given directly, as a module constant, as a keyword, as a default
    and as a helper's second parameter are all found."""
    codes = source_error_codes()
    for code in ("syntax", "invalid-test-file", "invalid-activity", "yaml", "json"):
        assert code in codes, code


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_cli_doc_is_up_to_date():
    generator = _load_generator()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == generator.render(), "docs/cli.md is stale: run python scripts/gen_cli_docs.py"


def test_cli_doc_has_every_command():
    from click.testing import CliRunner

    from smrules.cli import main

    generator = _load_generator()
    text = generator.render()
    for name in ("check", "lint", "schema"):
        assert f"### `smrules {name}`" in text
        runner = CliRunner()
        help_text = runner.invoke(main, [name, "--help"], prog_name="smrules").stdout
        assert help_text.splitlines()[0] in text
