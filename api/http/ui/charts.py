"""The slip timeline's charts, drawn once per slip history and kept.

A chart is a pure function of the engagement's slip-history rows (and, for the MTA chart while
a milestone is open, of how far its line runs: to the engagement's last change), and those rows
are only ever appended: the last row's position names the whole history. So a chart drawn for
(engagement, last position, end of open lines) is kept until a milestone moves again (or, with
open milestones, until the engagement changes). matplotlib takes a good part of a second per
chart on a busy machine; a page must take a few milliseconds.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from projections.db import ProjectionDB, Row
from projections.slips import attributed, series_of, slip_history

Kind = Literal["svg", "png"]
MTA_LABEL = "Milestone trend analysis: forecast date of each milestone against the date it was recorded"
logger = logging.getLogger(__name__)
ATTRIBUTION_LABEL = "Slip attribution: days slipped and recovered by responsible party and by cause"


class Charts:
    """Drawn charts, the most recently used ``capacity`` of them."""

    capacity = 128

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._watched: OrderedDict[str, None] = OrderedDict()

    def watch(self, engagement_id: str) -> None:
        """Someone looks at this engagement's charts: keep them drawn as it changes."""
        with self._lock:
            self._watched[engagement_id] = None
            self._watched.move_to_end(engagement_id)
            while len(self._watched) > self.capacity // 4:
                self._watched.popitem(last=False)

    def watched(self) -> list[str]:
        with self._lock:
            return list(self._watched)

    def draw_all(
        self, engagement_id: str, history: Sequence[Row], until: datetime | None
    ) -> dict[tuple[str, bool], bytes]:
        """The slip timeline's charts as its page shows them, by (chart, narrow): for a laptop and a phone."""
        return {
            (name, narrow): chart
            for narrow in (False, True)
            for name, chart in [
                ("mta", self.mta(engagement_id, history, until, "svg", narrow)),
                ("attribution", self.attribution(engagement_id, history, "svg", narrow)),
            ]
        }

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


def keep_warm(db: ProjectionDB, charts: Charts, stop: threading.Event, every: float = 0.5) -> None:
    """Redraw the watched engagements' charts as soon as the projections move, so that the first
    view after a change is served from memory rather than waiting on matplotlib."""
    from api.http.ui import drawing  # noqa: F401  (matplotlib's import, a second or more, paid here)

    while not stop.wait(every):
        for engagement_id in charts.watched():
            try:
                _redraw(db, charts, engagement_id)
            except Exception:  # a database outage: the page draws on demand meanwhile
                logger.exception("could not redraw the charts of %s", engagement_id)


def _redraw(db: ProjectionDB, charts: Charts, engagement_id: str) -> None:
    """The engagement's charts for its slip history and last change as the projections hold them."""
    changed = db.query(
        "SELECT last_changed_at FROM status_engagements WHERE engagement_id = %s", (engagement_id,)
    )
    if changed:
        until = datetime.fromisoformat(changed[0]["last_changed_at"])
        charts.draw_all(engagement_id, slip_history(db, engagement_id), until)
