"""The charts, drawn with matplotlib's object API (no pyplot, no global figure state).

- **MTA** (milestone trend analysis): x is the date a forecast was recorded, y the date it
  promised; one line per milestone, holding its value until the next move (a step), on to the
  engagement's last recorded change while the milestone is open. A line that climbs is a
  milestone slipping; a line that meets the diagonal (forecast = report date) is done.
  Re-baselines are diamonds, achievements stars, cancellations crosses.
- **Slip attribution**: days slipped (later moves, right) and recovered (earlier moves, left)
  by responsible party and by cause, with the net written at the end of each row.

Only ``api.http.ui.charts`` imports this module, when a chart is first drawn: importing
matplotlib takes most of a second, which the API and the command line should not pay.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any, Literal

import numpy as np
from matplotlib import dates as mdates
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from projections.slips import Attribution, MtaSeries, Tally

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Okabe and Ito's colours: told apart with every common kind of colour blindness."""
SLIPPED, RECOVERED = "#C0392B", "#1E8449"
WIDE, NARROW = 8.0, 4.2
"""Figure widths in inches: for a laptop's column, and for a phone's screen (drawn apart, so that
text stays as large on a phone instead of shrinking with the picture)."""
MARKS = {"rebaselined": ("D", 8, "re-baselined"), "achieved": ("*", 15, "achieved"),
         "cancelled": ("X", 10, "cancelled")}  # fmt: skip
STYLE: dict[Any, Any] = {
    "font.size": 11, "axes.titlesize": 13, "axes.titleweight": "bold", "svg.fonttype": "none",
    "axes.spines.top": False, "axes.spines.right": False,
}  # fmt: skip
"""Text kept as text in SVG (the browser draws it, crisp and searchable), no box around the plot."""

_drawing = threading.Lock()
"""matplotlib's text layout is not thread-safe; the pages are served from a thread pool."""


def _date_axis(axis: Axis, narrow: bool) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=5 if narrow else 8)  # type: ignore[no-untyped-call]
    axis.set_major_locator(locator)
    axis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _mta_line(ax: Axes, series: MtaSeries, colour: str, until: datetime | None) -> None:
    """One milestone's line: each recorded forecast held until the next, and on to ``until`` while open."""
    times = [p.recorded_at for p in series.points]
    dates = [datetime.combine(p.forecast, time(), UTC) for p in series.points]
    if series.status == "open" and until is not None and until > times[-1]:
        held = np.array([*times, until]), np.array([*dates, dates[-1]])
    else:
        held = np.array(times), np.array(dates)
    ax.plot(*held, drawstyle="steps-post", color=colour, linewidth=2, label=series.title)
    xs, ys = np.array(times), np.array(dates)
    ax.plot(xs, ys, "o", color=colour, markersize=4)
    for n, point in enumerate(series.points):
        if point.kind in MARKS:
            marker, size, _ = MARKS[point.kind]
            ax.plot(xs[n : n + 1], ys[n : n + 1], marker=marker, markersize=size, color=colour,
                    markeredgecolor="black")  # fmt: skip


def _margins(figure: Figure, left: float, right: float, top: float, bottom: float, gap: float = 0) -> None:
    """Place the axes by margins in inches. matplotlib's constrained layout would find them itself,
    at about a third of the drawing time; the charts' parts are known, so they are set here."""
    width, height = figure.get_size_inches()
    plot_height = height - top - bottom - gap
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=gap / (plot_height / 2) if gap else 0.2,
    )


def draw_mta(series: Sequence[MtaSeries], until: datetime | None, narrow: bool = False) -> Figure:
    drawn = [s for s in series if s.points]
    columns = 2 if narrow else 3
    legend_rows = -(-(len(drawn) + 1 + len(MARKS)) // columns)
    bottom = 0.75 + 0.24 * legend_rows
    figure = Figure(figsize=(NARROW if narrow else WIDE, 4.3 + bottom))
    _margins(figure, left=0.8, right=0.25, top=0.4, bottom=bottom)
    ax = figure.add_subplot()
    ax.set_title("Milestone trend analysis")
    ax.set_xlabel("date recorded")
    ax.set_ylabel("forecast date")
    for n, line in enumerate(drawn):
        _mta_line(ax, line, PALETTE[n % len(PALETTE)], until)
    if drawn:
        low, high = min(*ax.get_xlim(), *ax.get_ylim()), max(*ax.get_xlim(), *ax.get_ylim())
        ax.plot([low, high], [low, high], linestyle="--", color="#777777", linewidth=1,
                label="forecast = report date")  # fmt: skip
    else:
        ax.text(0.5, 0.5, "No milestones planned yet", ha="center", transform=ax.transAxes)
    _date_axis(ax.xaxis, narrow)
    _date_axis(ax.yaxis, narrow)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    marks = [Line2D([], [], marker=m, markersize=s * 0.8, linestyle="", color="#888888",
                    markeredgecolor="black", label=label) for m, s, label in MARKS.values()]  # fmt: skip
    handles, _ = ax.get_legend_handles_labels()
    figure.legend(
        handles=[*handles, *marks],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.01),
        ncols=columns,
        frameon=False,
        fontsize=9 if narrow else 10,
        handlelength=1.6,
        columnspacing=1.2,
    )
    return figure


def _bars(ax: Axes, title: str, tallies: Mapping[str, Tally], narrow: bool) -> None:
    ordered = sorted(tallies.items(), key=lambda kv: (-kv[1].net, kv[0]))
    names = [name.replace("_", " ") for name, _ in ordered][::-1]
    rows = [t for _, t in ordered][::-1]
    ax.barh(names, [t.gross for t in rows], height=0.6, color=SLIPPED, label="days slipped")
    ax.barh(names, [-t.recoveries for t in rows], height=0.6, color=RECOVERED, label="days recovered")
    reach = max([t.gross for t in rows] + [1])
    for y, t in enumerate(rows):
        ax.text(t.gross + reach * 0.02, y, f"net {t.net:+d}", va="center", fontsize=9 if narrow else 10)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-max([t.recoveries for t in rows] + [0]) - reach * 0.05, reach * (1.6 if narrow else 1.3))
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def draw_attribution(attribution: Attribution, narrow: bool = False) -> Figure:
    parties, causes = attribution.by_party, attribution.by_cause
    width = NARROW if narrow else WIDE
    if not parties and not causes:
        figure = Figure(figsize=(width, 1.0))
        figure.text(0.5, 0.5, "No slip recorded: no milestone has moved.", ha="center", va="center")
        return figure
    longest = max(len(name) for name in [*parties, *causes])
    height = 2.45 + 0.36 * (len(parties) + len(causes))
    figure = Figure(figsize=(width, height))
    _margins(figure, left=0.3 + 0.095 * longest, right=0.2, top=0.75, bottom=0.95, gap=0.75)
    top, bottom = figure.subplots(2, 1, height_ratios=[max(len(parties), 1), max(len(causes), 1)])
    figure.suptitle("Slip attribution (days)", fontsize=13, fontweight="bold")
    _bars(top, "By responsible party", parties, narrow)
    _bars(bottom, "By cause", causes, narrow)
    bottom.set_xlabel("days")
    handles, _ = top.get_legend_handles_labels()
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=2, frameon=False,
                  fontsize=10)  # fmt: skip
    return figure


def rendered(draw: Callable[[], Figure], kind: Literal["svg", "png"], label: str) -> bytes:
    """The figure ``draw`` makes, as SVG (an ``<svg>`` element to put in a page, its text kept as
    text, no XML prolog) or as a PNG. SVG ids are salted at random (matplotlib's default), so
    that the charts of one page never share an id."""
    buffer = io.BytesIO()
    with _drawing, rc_context(STYLE):
        figure = draw()
        figure.savefig(buffer, format=kind, dpi=150)
    if kind == "png":
        return buffer.getvalue()
    text = buffer.getvalue()
    element = text[text.index(b"<svg") :]
    return element.replace(b"<svg ", f'<svg role="img" aria-label="{label}" '.encode(), 1)
