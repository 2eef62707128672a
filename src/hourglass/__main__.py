"""``python -m hourglass ...``: the same as the ``hourglass`` command, for launchers such as
``torchrun --standalone --nproc-per-node 2 -m hourglass fit ...``."""

from hourglass.cli import run

if __name__ == "__main__":
    run()
