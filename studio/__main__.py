"""``python -m studio`` and ``torchrun --nproc_per_node=N -m studio train-gan ...``: the command line."""

import sys

from studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
