"""How long the ``hourglass`` command takes to start, against a bare interpreter in the same run.

Target (issue 15): ``hourglass --help`` within 0.5 s. Best of ``--repeats`` wall-clock runs of
each command in a fresh process, so the figures are start-up cost, not noise. Prints JSON.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds = {name: round(best_of(command, args.repeats), 3) for name, command in COMMANDS.items()}
    print(
        json.dumps({"seconds": seconds, "target_help_le_0.5_s": seconds["hourglass --help"] <= 0.5}, indent=2)
    )


if __name__ == "__main__":
    main()
