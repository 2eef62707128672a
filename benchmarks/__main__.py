"""Run one benchmark by name, or list them all.

python -m benchmarks                   # every benchmark, one line each
python -m benchmarks NAME [ARGS...]    # run one (python -m benchmarks NAME --help: its options)
"""

from __future__ import annotations

import sys

from benchmarks import BENCHMARKS, description, load, resolve


def listing() -> str:
    """One line per benchmark: its name and what it measures."""
    width = max(map(len, BENCHMARKS))
    lines = ["usage: python -m benchmarks NAME [ARGS...]", "", "benchmarks:"]
    lines += [f"  {name:<{width}}  {description(name)}" for name in BENCHMARKS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark ``argv[0]`` with the rest of ``argv``; list them without a name."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(listing())
        return 0
    try:
        module = load(resolve(argv[0]))
    except KeyError:
        print(f"no benchmark {argv[0]!r}\n\n{listing()}", file=sys.stderr)
        return 2
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
