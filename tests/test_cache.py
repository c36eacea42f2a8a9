"""The on-disk cache of parsed policies: used only while every file is unchanged."""

from __future__ import annotations

import os

import pytest

import smrules
from conftest import NOW, write_policy
from smrules import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("SMRULES_CACHE_DIR", str(directory))
    monkeypatch.delenv("SMRULES_NO_CACHE", raising=False)
    return directory


def policy_files(root):
    return write_policy(
        root,
        {
            "main.smr": (
                'import "data/k.yaml" as k\nrule r { when kind in k.kinds warn "{k.word}" }\n'
            ),
            "data/k.yaml": "kinds: [share]\nword: first\n",
        },
    )


ACT = {"kind": "share", "actor": {"id": "a"}}


def test_second_load_comes_from_cache(tmp_path, cache_dir, monkeypatch):
    root = policy_files(tmp_path / "p")
    first = smrules.load(root)
    assert list(cache_dir.glob("*.pickle"))
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"

    import smrules.loader as loader

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cached program should have been used")

    monkeypatch.setattr(loader, "load_program", no_parsing)
    monkeypatch.setattr(smrules.api, "load_program", no_parsing)
    second = smrules.load(root)
    assert second.digest == first.digest
    assert second.evaluate(ACT, now=NOW).to_dict() == first.evaluate(ACT, now=NOW).to_dict()


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "data" / "k.yaml").write_text("kinds: [share]\nword: second\n"),
        lambda root: (root / "extra.smr").write_text('rule extra { warn "second" }\n'),
        lambda root: (root / "waivers.yaml").write_text("[]\n"),
    ],
)
def test_any_change_is_a_miss(tmp_path, cache_dir, change):
    root = policy_files(tmp_path / "p")
    smrules.load(root)
    change(root)
    policy = smrules.load(root)
    fresh = smrules.load(root, cache=False)
    assert policy.digest == fresh.digest
    assert policy.evaluate(ACT, now=NOW).to_dict() == fresh.evaluate(ACT, now=NOW).to_dict()


def test_corrupt_entry_is_ignored(tmp_path, cache_dir):
    root = policy_files(tmp_path / "p")
    smrules.load(root)
    for entry in cache_dir.glob("*.pickle"):
        entry.write_bytes(b"smrules-cache-1\nnot a pickle")
    assert smrules.load(root).evaluate(ACT, now=NOW).findings[0].message == "first"


def test_shared_writable_cache_dir_is_not_used(tmp_path, cache_dir):
    root = policy_files(tmp_path / "p")
    cache_dir.mkdir()
    os.chmod(cache_dir, 0o777)
    smrules.load(root)
    assert not list(cache_dir.glob("*.pickle"))


def test_cache_can_be_turned_off(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("SMRULES_NO_CACHE", "1")
    smrules.load(policy_files(tmp_path / "p"))
    assert not cache_dir.exists()
    assert cache.cache_dir() is None
