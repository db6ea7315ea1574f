"""A progress bar for long runs, on standard error, redrawn at most ten times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = int(share * self.width)
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
            f"{done:,}/{total:,} events, {rate:,.0f}/s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
