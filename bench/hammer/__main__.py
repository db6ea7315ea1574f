"""The command line: ``python -m bench.hammer`` runs the hammer and exits 1 on any violation."""

from __future__ import annotations

import sys

from bench.hammer.run import main

if __name__ == "__main__":
    sys.exit(main())
