"""Refusals, each named after the rule it enforces; a refused command records nothing."""

from __future__ import annotations


class RuleViolation(Exception):
    """A command broke one of the ledger's rules."""

    @property
    def rule(self) -> str:
        return type(self).__name__

    @property
    def detail(self) -> str:
        return str(self.args[0]) if self.args else (type(self).__doc__ or self.rule)


# Engagement
class EngagementNotFound(RuleViolation):
    """No engagement has this code."""


class EngagementAlreadyExists(RuleViolation):
    """An engagement with this code was opened already."""


class EngagementIsClosed(RuleViolation):
    """A closed engagement accepts no further changes."""


class EndBeforeStart(RuleViolation):
    """An engagement cannot end before it starts."""


class DateBeforeEngagementStart(RuleViolation):
    """A date may not lie before the engagement's planned start."""


class ReasonRequired(RuleViolation):
    """This change needs a reason the client can read."""


class EffectiveDateInFuture(RuleViolation):
    """A change cannot have taken effect on a day that has not come yet."""


class ExpectedVersionMismatch(RuleViolation):
    """The engagement changed since the version the command expected."""


class TooManyConcurrentWriters(RuleViolation):
    """The engagement kept changing under this command; it was not recorded, try again."""


# Scope
class UnknownScopeItem(RuleViolation):
    """No scope item has this key in the engagement."""


class ScopeItemAlreadyExists(RuleViolation):
    """A scope item with this key exists already."""


class ScopeItemAlreadyRemoved(RuleViolation):
    """The scope item was removed; removed items cannot change."""


# Milestones
class UnknownMilestone(RuleViolation):
    """No milestone has this key in the engagement."""


class MilestoneAlreadyExists(RuleViolation):
    """A milestone with this key exists already."""


class MilestoneAlreadyAchieved(RuleViolation):
    """The milestone was achieved; its dates are history now."""


class MilestoneIsCancelled(RuleViolation):
    """The milestone was cancelled; it cannot change."""


class SlipCauseRequired(RuleViolation):
    """Moving a date later needs a slip cause and a responsible party."""


class ChangeRefRequired(RuleViolation):
    """A re-baseline needs the change request that approved it."""


class ApproverRequired(RuleViolation):
    """A re-baseline needs the name of who approved it."""


class ActualDateInFuture(RuleViolation):
    """A milestone cannot be achieved on a date that has not come yet."""


# Tasks
class UnknownTask(RuleViolation):
    """No task has this key in the engagement."""


class TaskAlreadyExists(RuleViolation):
    """A task with this key exists already."""


class IllegalTaskTransition(RuleViolation):
    """Tasks move only along the allowed status transitions."""


class TaskIsClosed(RuleViolation):
    """The task is done or cancelled; reopen it first."""
