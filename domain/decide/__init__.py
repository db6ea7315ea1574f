"""``decide(state, command, context) -> events``: every rule of the ledger, as pure functions.

Nothing here reads the clock, mints ids or touches storage: the application passes the
current state, the time and the authenticated actor. A refusal raises an error named after
the rule (``domain.errors``); a command that would change nothing returns no events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.decide import engagement, milestones, scope, tasks
from domain.decide.common import Context
from domain.state import Engagement

Decider = Callable[[Engagement | None, Any, Context], list[ev.Event]]

DECIDERS: dict[type[cmd.Command], Decider] = {
    cmd.OpenEngagement: engagement.open_,
    cmd.AssignManager: engagement.assign_manager,
    cmd.PutOnHold: engagement.put_on_hold,
    cmd.Resume: engagement.resume,
    cmd.CloseEngagement: engagement.close,
    cmd.AddScopeItem: scope.add,
    cmd.ReviseScopeItem: scope.revise,
    cmd.RemoveScopeItem: scope.remove,
    cmd.PlanMilestone: milestones.plan,
    cmd.RescheduleMilestone: milestones.reschedule,
    cmd.RebaselineMilestone: milestones.rebaseline,
    cmd.AchieveMilestone: milestones.achieve,
    cmd.CancelMilestone: milestones.cancel,
    cmd.AddTask: tasks.add,
    cmd.ChangeTaskStatus: tasks.change_status,
    cmd.AssignTask: tasks.assign,
    cmd.RescheduleTask: tasks.reschedule,
}


def decide(state: Engagement | None, command: cmd.Command, context: Context) -> list[ev.Event]:
    """The events that record ``command`` against ``state``, or the broken rule's error."""
    if command.effective_on is not None and command.effective_on > context.now.date():
        raise errors.EffectiveDateInFuture(f"effective date {command.effective_on} has not come yet")
    return DECIDERS[type(command)](state, command, context)


__all__ = ["Context", "decide"]
