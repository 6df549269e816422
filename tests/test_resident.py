"""runner/resident.py: the registry of a kernel kept warm between two commands, and a real kept
kernel (watchdog, adoption by the next run: see also tests/test_runner.py)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from plancadre_eval.runner import resident


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    return tmp_path / "runtime"


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _gone(proc, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        time.sleep(0.05)
    return False


CONNECTION = {"key": b"secret", "transport": "tcp", "ip": "127.0.0.1", "shell_port": 1}


def test_registry_is_private_and_read_back(runtime, sleeper, tmp_path):
    path = resident.register(str(tmp_path), "cle-1", CONNECTION, sleeper.pid)
    assert path.parent == runtime and path.name.startswith("plancadre-eval-")
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the kernel's signing key
    entry = resident.read(str(tmp_path))
    assert entry["pid"] == sleeper.pid and entry["cle"] == "cle-1"
    assert entry["connexion"]["key"] == "secret"  # bytes written as text
    assert resident.read(str(tmp_path / "autre-projet")) is None  # one registry per project


def test_take_hands_over_a_compatible_kernel_once(runtime, sleeper, tmp_path):
    resident.register(str(tmp_path), "cle-1", CONNECTION, sleeper.pid)
    assert resident.take(str(tmp_path), "cle-1")["pid"] == sleeper.pid
    assert resident.take(str(tmp_path), "cle-1") is None  # taken: no longer registered
    assert sleeper.poll() is None  # and left running for its new owner


def test_take_claims_the_registry_atomically(runtime, sleeper, tmp_path, monkeypatch):
    resident.register(str(tmp_path), "cle-1", CONNECTION, sleeper.pid)
    real_rename = os.rename

    def another_command_first(src, dst):  # another `run` renames the file just before us
        real_rename(src, str(src) + ".autre")
        real_rename(src, dst)  # raises FileNotFoundError, as the loser's rename does

    monkeypatch.setattr(resident.os, "rename", another_command_first)
    assert resident.take(str(tmp_path), "cle-1") is None
    assert sleeper.poll() is None  # the winner's kernel is left alone


def test_take_stops_an_incompatible_kernel(runtime, sleeper, tmp_path):
    resident.register(str(tmp_path), "cle-ancienne-bibliotheque", CONNECTION, sleeper.pid)
    assert resident.take(str(tmp_path), "cle-1") is None
    assert _gone(sleeper)
    assert not resident.registry_path(str(tmp_path)).exists()


def test_stale_or_broken_registry_is_forgotten(runtime, tmp_path):
    proc = subprocess.Popen(["true"])
    proc.wait()
    resident.register(str(tmp_path), "cle-1", CONNECTION, proc.pid)
    assert resident.read(str(tmp_path)) is None
    assert not resident.registry_path(str(tmp_path)).exists()
    path = resident.registry_path(str(tmp_path))
    path.write_text("{pas du json", encoding="utf-8")
    assert resident.read(str(tmp_path)) is None and not path.exists()


def test_stop_says_whether_there_was_a_kernel(runtime, sleeper, tmp_path):
    assert resident.stop(str(tmp_path)) is False
    resident.register(str(tmp_path), "cle-1", CONNECTION, sleeper.pid)
    assert resident.stop(str(tmp_path)) is True
    assert _gone(sleeper)


def test_compatibility_key_changes_with_the_library():
    a = resident.compatibility_key("/projet", ("pandas",), "bibliotheque-1")
    assert a == resident.compatibility_key("/projet", ("pandas",), "bibliotheque-1")
    assert a != resident.compatibility_key("/projet", ("pandas",), "bibliotheque-2")
    assert a != resident.compatibility_key("/autre", ("pandas",), "bibliotheque-1")


@pytest.mark.slow
def test_kept_kernel_outlives_nothing_but_its_idle_time(runtime, tmp_path):
    from plancadre_eval.runner.kernels import _Kernel, shutdown_kernels

    kernel = _Kernel(os.getcwd(), "jeton", ("json",), 120, pooled=True, detached=True)
    try:
        pid = kernel.pid
        kernel.run_shell(resident.WATCH_CODE.format(minutes=0.01), timeout=30)  # 0.6 s idle
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and resident._pid_alive(pid):
            time.sleep(0.1)
        assert not resident._pid_alive(pid)
    finally:
        shutdown_kernels()
