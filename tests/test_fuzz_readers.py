"""Hostile files, fuzzed under a memory limit: compressed files and model folders (see fuzzing.py).

Each run is a process of its own, whose address space is capped once it is set up, so a reader
that allocated what a forged header asks for would fail here with a MemoryError instead of
taking the machine down. The default suite runs a small corpus; ``-m slow`` a larger one.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("fuzzing.py")
SRC = Path(__file__).parents[1] / "src"
#: The issue's ceilings: memory a reader may take beyond its baseline, and time to refuse a bomb.
MAX_PEAK_MB = 600
MAX_BOMB_SECONDS = 1.0


@functools.cache  # one run per corpus, however many tests read its summary
def fuzz(kind: str, examples: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(WORKER), kind, str(examples)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "kind, examples",
    [
        ("compressed", 120),
        ("model", 40),
        pytest.param("compressed", 3000, marks=pytest.mark.slow),
        pytest.param("model", 600, marks=pytest.mark.slow),
    ],
)
def test_hostile_files_are_refused_in_bounded_memory(kind, examples):
    summary = fuzz(kind, examples)
    assert summary["examples"] == examples
    assert 0 < summary["refused"] < examples  # the corpus holds good files and bad ones
    assert summary["peak_above_baseline_mb"] < MAX_PEAK_MB


def test_a_bomb_of_every_coder_is_refused_within_a_second():
    bombs = fuzz("compressed", 120)["bomb_seconds"]
    assert {"zlib", "lzma", "raw"} <= set(bombs)
    assert max(bombs.values()) <= MAX_BOMB_SECONDS, bombs
