"""The helpers of ``make bench`` (the bench itself takes minutes and is not a test)."""

from __future__ import annotations

import os
import subprocess
import sys

from plancadre_eval import bench


def test_change_one_value_adds_one_to_the_first_integer_and_keeps_the_rest(tmp_path):
    f = tmp_path / "fiche-1.1.csv"
    raw = "\ufefffiche;indicateur;annee;territoire;valeur\r\n1.1;1.1.1;2022;62;\"1 030\"\r\n1.1;1.1.2;2022;62;41\r\n"
    f.write_bytes(raw.encode("utf-8"))
    said = bench.change_one_value(f)
    assert said == "fiche-1.1.csv, ligne 3 : valeur 41 -> 42"
    assert f.read_bytes() == raw.replace(";41\r\n", ";42\r\n").encode("utf-8")


def test_tree_rss_counts_a_process_with_its_children():
    import time

    alone = bench._tree_rss([os.getpid()])[os.getpid()]
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; x = bytearray(b'1' * 50_000_000); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with_child = bench._tree_rss([os.getpid()])[os.getpid()]
            if with_child >= alone + 40_000_000:
                break
            time.sleep(0.2)
        assert with_child >= alone + 40_000_000  # the child's 50 MB are counted
    finally:
        child.kill()
        child.wait()
    assert bench._tree_rss([2**22 + 12345]) == {}  # a process that does not exist: nothing
