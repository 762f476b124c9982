"""The lab never skips silently where it is required: CI (CI=true) or WZP_REQUIRE_LAB=1 (.ci/run).
These run anywhere: the unavailable lab is made with an `ip` that always fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .require import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
LAB_TEST = "tests/lab/test_netlab.py::test_close_removes_namespaces_and_processes"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("WZP_REQUIRE_LAB", raising=False)


@pytest.mark.parametrize(("name", "value"), [("WZP_REQUIRE_LAB", "1"), ("CI", "true")])
def test_unavailable_lab_fails_where_required(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match=r"required .* cannot run: no netns here"):
        skip_or_fail("no netns here")


@pytest.mark.parametrize("ci", ["", "false"])
def test_unavailable_lab_skips_elsewhere(clean_env: None, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="network lab skipped: no netns here"):
        skip_or_fail("no netns here")


def run_lab_test_without_netns(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A real lab test in a child pytest whose `ip` command always fails."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ip").write_text("#!/bin/sh\necho 'ip: no network namespaces here' >&2\nexit 1\n")
    (fake / "ip").chmod(0o755)
    child_env = {k: v for k, v in os.environ.items() if k not in ("CI", "WZP_REQUIRE_LAB")}
    child_env.update(env, PATH=f"{fake}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", LAB_TEST],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lab_tests_error_out_under_wzp_require_lab(tmp_path: Path) -> None:
    done = run_lab_test_without_netns(tmp_path, WZP_REQUIRE_LAB="1")
    assert done.returncode != 0, done.stdout
    assert "1 error" in done.stdout and "the network lab is required" in done.stdout, done.stdout


def test_lab_tests_skip_with_the_reason_otherwise(tmp_path: Path) -> None:
    done = run_lab_test_without_netns(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "network lab skipped" in done.stdout, done.stdout
