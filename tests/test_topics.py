"""Stored topics are a contract: renaming or moving a class must not orphan history."""

from domain.events import TOPICS

PINNED = {
    "ledger:EngagementSnapshot": "EngagementSnapshot",
    "ledger:EngagementOpened": "EngagementOpened",
    "ledger:ManagerAssigned": "ManagerAssigned",
    "ledger:EngagementPutOnHold": "EngagementPutOnHold",
    "ledger:EngagementResumed": "EngagementResumed",
    "ledger:EngagementClosed": "EngagementClosed",
    "ledger:ScopeItemAdded": "ScopeItemAdded",
    "ledger:ScopeItemRevised": "ScopeItemRevised",
    "ledger:ScopeItemRemoved": "ScopeItemRemoved",
    "ledger:MilestonePlanned": "MilestonePlanned",
    "ledger:MilestoneRescheduled": "MilestoneRescheduled",
    "ledger:MilestoneRebaselined": "MilestoneRebaselined",
    "ledger:MilestoneAchieved": "MilestoneAchieved",
    "ledger:MilestoneCancelled": "MilestoneCancelled",
    "ledger:TaskAdded": "TaskAdded",
    "ledger:TaskStatusChanged": "TaskStatusChanged",
    "ledger:TaskAssigned": "TaskAssigned",
    "ledger:TaskRescheduled": "TaskRescheduled",
}


def test_every_stored_topic_is_pinned_to_its_class() -> None:
    ledger_topics = {t: cls.__name__ for t, cls in TOPICS.items() if t.startswith("ledger:")}
    assert ledger_topics == PINNED


def test_topics_do_not_depend_on_module_paths() -> None:
    for topic, cls in TOPICS.items():
        if topic.startswith("ledger:"):
            assert cls.__module__ not in topic
