"""An as-of view as readable text for the command line: the status, the milestones and the slip tally."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from projections.db import Row
from projections.slips import attributed
from projections.status import EngagementStatus


def _signed(days: int | None) -> str:
    return "" if days is None else f"{days:+d}"


def _milestone(m: Row) -> str:
    dates = f"{m['baseline']}  {m['forecast']}  {m['actual'] or '':<10}"
    slips = f"{_signed(m['slip_days']):>5}  {_signed(m['slip_vs_original_days']):>11}"
    return f"  {m['key']:<24} {m['status']:<10} {dates}  {slips}"


def format_as_of(status: EngagementStatus, slips: Sequence[Row], current: int) -> str:
    """The engagement as it stood: who and where, health, milestones, tasks, scope and slips."""
    e = status.engagement
    recorded = datetime.fromisoformat(e["last_changed_at"])
    tally = attributed(slips)
    removed = [s["key"] for s in status.scope if s["removed"]]
    in_scope = [s["key"] for s in status.scope if not s["removed"]]
    lines = [
        f"{e['code']} as of version {e['version']} of {current}, recorded {recorded:%Y-%m-%d %H:%M:%S %Z} "
        f"(log position {e['last_position']})",
        f"{e['title']}; client {e['client_name']} ({e['client_id']}); manager {e['manager']}",
        f"state {e['state']}; health {e['health']} ({e['health_reason']}); "
        f"{e['tasks_done']} of {e['tasks_total']} tasks done ({e['percent_done']}%)",
        "",
        f"  {'milestone':<24} {'status':<10} {'baseline':<10}  {'forecast':<10}  {'actual':<10}  "
        f"{'slip':>5}  {'vs original':>11}",
        *map(_milestone, status.milestones),
        "",
        "tasks:  " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in e["tasks_by_status"].items()),
        "scope:  " + ", ".join(in_scope) + (f"; removed: {', '.join(removed)}" if removed else ""),
        f"slips:  {len(slips)} dated moves; gross {tally.overall.gross} days, "
        f"recovered {tally.overall.recoveries}, net {tally.overall.net}; "
        f"re-baselines {tally.rebaselines} ({tally.rebaseline_days:+d} days)",
    ]
    return "\n".join(lines)
