"""How long the ``hourglass`` command takes to start, against a bare interpreter in the same run.

Target (issue 15): ``hourglass --help`` within 0.5 s. Best of ``--repeats`` wall-clock runs of
each command in a fresh process, so the figures are start-up cost, not noise. Prints JSON.

    python -m benchmarks startup [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.common import emit, output_path, parse

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hourglass --help": [sys.executable, "-m", "hourglass", "--help"],
    "hourglass --version": [sys.executable, "-m", "hourglass", "--version"],
    "hourglass fit --help": [sys.executable, "-m", "hourglass", "fit", "--help"],
    "import hourglass": [sys.executable, "-c", "import hourglass"],
    "import hourglass; AutoEncoder": [sys.executable, "-c", "from hourglass import AutoEncoder"],
}


def best_of(command: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        best = min(best, time.perf_counter() - tic)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parse(parser, argv, "startup")
    seconds = {name: round(best_of(command, args.repeats), 3) for name, command in COMMANDS.items()}
    results = {"seconds": seconds, "target_help_le_0.5_s": seconds["hourglass --help"] <= 0.5}
    emit(results, output_path(args, "startup"))


if __name__ == "__main__":
    main()
