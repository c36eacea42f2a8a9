"""`pip install .` gives a working smrules: the wheel holds the grammar, the schemas, the bundled
policy and the scaffold, and its `smrules` command works from outside the repository.

The wheel is built from a copy of the tracked files (so a file that only exists in a working
tree cannot make it pass) and installed into a fresh virtual environment. The environment
reaches the already-installed dependencies through a path file, so nothing but the build
backend is downloaded, and it does not see this checkout's editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import smrules

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 600  # seconds: pip may fetch the build backend (setuptools) first
DRAFT = "Excited to share Project Falcon with you all"


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    return sorted(name for name in out.split("\0") if name)


def copy_tracked_tree(target: Path) -> Path:
    for name in tracked_files():
        source = ROOT / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the working tree
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, dest)
    return target


def run(args: list[str], cwd: Path, timeout: int = 120, env: dict | None = None):
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or clean_env()
    )


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = copy_tracked_tree(tmp_path_factory.mktemp("source"))
    dist = tmp_path_factory.mktemp("dist")
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)],
        cwd=dist,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = dist.glob("smrules-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    root = tmp_path_factory.mktemp("venv")
    created = run([sys.executable, "-m", "venv", str(root)], cwd=root, timeout=BUILD_TIMEOUT)
    assert created.returncode == 0, created.stderr
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # The dependencies this interpreter already has, as plain path entries: unlike
    # --system-site-packages this does not run their .pth files, so the checkout's
    # editable install stays invisible and `import smrules` can only find the wheel.
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=root,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "_smrules_test_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    installed = run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        cwd=root,
        timeout=BUILD_TIMEOUT,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


def bin_path(venv: Path, name: str) -> str:
    return str(venv / ("Scripts" if os.name == "nt" else "bin") / name)


# ------------------------------------------------------------------------------- the wheel


def test_wheel_contains_grammar_schemas_policy_and_scaffold(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "smrules/grammar.lark" in names
    assert "smrules/py.typed" in names
    for schema in ("activity", "decision", "policy-test"):
        assert f"smrules/schemas/{schema}.schema.json" in names
    policy_files = [n for n in tracked_files() if n.startswith("policies/")]
    assert any(n.endswith(".smr") for n in policy_files)
    missing = [n for n in policy_files if f"smrules/{n}" not in names]
    assert not missing, f"bundled policy files missing from the wheel: {missing}"
    for scaffold in (
        "policies/main.smr",
        "policies/data/lexicon.yaml",
        "policies/tests/main.test.yaml",
        ".pre-commit-config.yaml",
        ".github/workflows/smrules.yml",
    ):
        assert f"smrules/scaffold/{scaffold}" in names
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_files_are_the_repository_files(wheel):
    archive = zipfile.ZipFile(wheel)
    assert archive.read("smrules/grammar.lark") == (ROOT / "src/smrules/grammar.lark").read_bytes()
    for schema in ("activity", "decision", "policy-test"):
        shipped = archive.read(f"smrules/schemas/{schema}.schema.json")
        assert shipped == (ROOT / "schemas" / f"{schema}.schema.json").read_bytes()


def test_wheel_declares_the_console_script_and_dependencies(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
    assert "smrules = smrules.cli:main" in archive.read(info).decode()
    meta = archive.read(info.replace("entry_points.txt", "METADATA")).decode()
    for dep in ("lark", "pyyaml", "jsonschema", "click", "google-re2", "jsonschema-rs"):
        assert f"Requires-Dist: {dep}" in meta


# ------------------------------------------------------------------------------- installed


def test_installed_package_is_the_wheel_not_the_checkout(venv, tmp_path):
    python = bin_path(venv, "python")
    out = run([python, "-c", "import smrules; print(smrules.__file__)"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    location = Path(out.stdout.strip()).resolve()
    assert venv.resolve() in location.parents
    assert ROOT.resolve() not in location.parents
    check = run([python, "-m", "pip", "check"], cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_installed_smrules_checks_text_from_outside_the_repository(venv, tmp_path):
    result = run([bin_path(venv, "smrules"), "check", "--text", DRAFT], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # denied
    assert result.stdout.startswith("deny")
    assert "conf_codename" in result.stdout
    assert "Traceback" not in result.stderr


def test_installed_smrules_uses_the_bundled_policy_as_json(venv, tmp_path):
    result = run(
        [bin_path(venv, "smrules"), "check", "--text", DRAFT, "--output", "json"], cwd=tmp_path
    )
    decision = json.loads(result.stdout)
    expected = smrules.load(ROOT / "policies")
    assert decision["policy"]["name"] == expected.name
    assert decision["policy"]["digest"] == expected.digest
    assert [f["rule"] for f in decision["findings"]] == ["conf_codename"]
    allowed = run(
        [bin_path(venv, "smrules"), "check", "--text", "Happy Friday, everyone!"], cwd=tmp_path
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_installed_smrules_prints_the_shipped_schema(venv, tmp_path):
    result = run([bin_path(venv, "smrules"), "schema", "activity"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shipped = json.loads((ROOT / "schemas" / "activity.schema.json").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == shipped


def test_installed_smrules_scaffolds_a_repository_whose_tests_pass(venv, tmp_path):
    smrules_bin = bin_path(venv, "smrules")
    init = run([smrules_bin, "init", "repo"], cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    assert (tmp_path / "repo/.github/workflows/smrules.yml").is_file()
    assert (tmp_path / "repo/.pre-commit-config.yaml").is_file()
    tested = run([smrules_bin, "test", "--coverage"], cwd=tmp_path / "repo")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "5 passed, 0 failed" in tested.stdout
