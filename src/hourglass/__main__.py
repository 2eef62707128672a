"""``python -m hourglass ...``: the same as the ``hourglass`` command, for launchers such as
``torchrun --standalone --nproc-per-node 2 -m hourglass fit ...``."""

import sys

from hourglass.cli import main

if __name__ == "__main__":
    sys.exit(main())
