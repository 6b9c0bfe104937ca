"""``python -m taskcore``: the command line (see :mod:`taskcore.cli`)."""

from __future__ import annotations

import sys

from taskcore.cli import main

if __name__ == "__main__":
    sys.exit(main())
