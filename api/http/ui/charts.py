"""The slip timeline's charts, drawn once per slip history and kept.

A chart is a pure function of the engagement's slip-history rows (and, for the MTA chart while
a milestone is open, of how far its line runs: to the engagement's last change), and those rows
are only ever appended: the last row's position names the whole history. So a chart drawn for
(engagement, last position, end of open lines) is kept until a milestone moves again (or, with
open milestones, until the engagement changes). matplotlib takes a good part of a second per
chart on a busy machine; a page must take a few milliseconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from projections.db import Row
from projections.slips import attributed, series_of

Kind = Literal["svg", "png"]
MTA_LABEL = "Milestone trend analysis: forecast date of each milestone against the date it was recorded"
ATTRIBUTION_LABEL = "Slip attribution: days slipped and recovered by responsible party and by cause"


class Charts:
    """Drawn charts, the most recently used ``capacity`` of them."""

    capacity = 128

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def mta(
        self,
        engagement_id: str,
        history: Sequence[Row],
        until: datetime | None,
        kind: Kind,
        narrow: bool = False,
    ) -> bytes:
        from api.http.ui import drawing  # matplotlib, imported on the first chart only

        series = series_of(history)
        end = until if any(line.status == "open" for line in series) else None  # only open lines run on
        key = ("mta", kind, narrow, engagement_id, _last(history), end)
        return self._kept_or(key, lambda: drawing.rendered(
            lambda: drawing.draw_mta(series, end, narrow), kind, MTA_LABEL))  # fmt: skip

    def attribution(
        self, engagement_id: str, history: Sequence[Row], kind: Kind, narrow: bool = False
    ) -> bytes:
        from api.http.ui import drawing

        key = ("attribution", kind, narrow, engagement_id, _last(history))
        return self._kept_or(key, lambda: drawing.rendered(
            lambda: drawing.draw_attribution(attributed(history), narrow), kind, ATTRIBUTION_LABEL,
        ))  # fmt: skip

    def _kept_or(self, key: tuple[object, ...], draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        drawn = draw()  # outside the lock: two first requests may both draw, neither waits on the other
        with self._lock:
            self._kept[key] = drawn
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
        return drawn


def _last(history: Sequence[Row]) -> int:
    return int(history[-1]["position"]) if history else 0
