"""An engagement's history as readable text: one line per event, with who and why."""

from __future__ import annotations

from collections.abc import Iterable

from domain import events as ev
from domain.state import Engagement, evolve
from projections.summary import describe


def format_history(engagement: Engagement, events: Iterable[ev.Event]) -> str:
    """The engagement's header, then each event as ``version  recorded  actor  summary``."""
    lines = [
        f"{engagement.code}  {engagement.title}",
        f"client {engagement.client_name} ({engagement.client_id}), manager {engagement.manager}, "
        f"state {engagement.state.value}, version {engagement.version}",
        "",
    ]
    state: Engagement | None = None
    for event in events:
        lines.append(
            f"v{event.originator_version:<4} {event.timestamp:%Y-%m-%d %H:%M}  "
            f"{event.actor:<15} {describe(event, state)}"
        )
        why = [f"reason: {event.reason}"] if event.reason else []
        why += [f"ref: {event.change_ref}"] if event.change_ref else []
        if why:
            lines.append(" " * 40 + "; ".join(why))
        state = evolve(state, event)
    return "\n".join(lines)
