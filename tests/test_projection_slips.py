"""The schedule-slip history: its rows, the MTA chart's series and slip attribution, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.demo import demo_steps, seed_demo
from domain import commands as c
from domain import events as ev
from domain.service import Ledger
from domain.values import ResponsibleParty as P
from domain.values import SlipCause as C
from domain.values import engagement_id
from projections.db import ProjectionDB, Row, open_projection_db
from projections.runner import Runner
from projections.slips import (
    UNATTRIBUTED,
    MtaPoint,
    SlipHistory,
    Tally,
    attribution,
    mta_series,
    slip_history,
)
from tests.support import CODE, opened

ID = str(engagement_id(CODE))
B = date(2026, 2, 2)
"""The hand-computed milestone's first baseline (StepClock starts on 2026-03-02, after B+20)."""
KEY = "uat-signoff"


def b(n: int) -> str:
    """B + ``n`` days, as stored."""
    return (B + timedelta(days=n)).isoformat()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@contextmanager
def projected(ledger: Ledger, batch_size: int = 1000) -> Iterator[ProjectionDB]:
    """The read models' database with the slip history caught up with ``ledger``."""
    db = open_projection_db(ledger.settings)
    try:
        Runner(ledger, db, [SlipHistory()], batch_size=batch_size).catch_up()
        yield db
    finally:
        db.close()


def record(ledger: Ledger, *commands: c.Command) -> None:
    for command in commands:
        ledger.execute(command, actor="dana")


def record_hand_computed_case(ledger: Ledger) -> None:
    """B moved +14 (vendor), +7 (client), -3 (PMO), re-baselined to B+18, achieved on B+20."""
    move = c.RescheduleMilestone
    record(
        ledger,
        opened(),
        c.PlanMilestone(code=CODE, key=KEY, title="UAT sign-off", baseline=B),
        move(code=CODE, key=KEY, to_date=B + timedelta(14), cause=C.VENDOR_DELAY,
             responsible_party=P.VENDOR, reason="Test environment delivered late"),
        move(code=CODE, key=KEY, to_date=B + timedelta(21), cause=C.CLIENT_DEPENDENCY,
             responsible_party=P.CLIENT, reason="Client testers unavailable"),
        move(code=CODE, key=KEY, to_date=B + timedelta(18), cause=C.RESOURCE_CONSTRAINT,
             responsible_party=P.PMO, reason="Second test team added; three days recovered"),
        c.RebaselineMilestone(code=CODE, key=KEY, to_date=B + timedelta(18), change_ref="CR-042",
                              approved_by="J. Ortega", reason="Re-plan approved by the steering committee"),
        c.AchieveMilestone(code=CODE, key=KEY, actual_on=B + timedelta(20), cause=C.TECHNICAL_ISSUE,
                           responsible_party=P.VENDOR, reason="Last defect fixed two days late"),
    )  # fmt: skip


SLIP_FIELDS = (
    "kind", "from_date", "to_date", "delta_days", "forecast", "baseline", "actual",
    "slip_days", "slip_vs_original_days", "cause", "responsible_party",
)  # fmt: skip


def test_each_move_of_the_hand_computed_milestone_is_a_row_with_both_slips(ledger: Ledger) -> None:
    record_hand_computed_case(ledger)
    with projected(ledger) as db:
        rows = slip_history(db, ID, KEY)
        assert slip_history(db, ID) == rows
    # By hand, in days after B (slip = actual-or-forecast - baseline, both after the event):
    #   planned      from -   to 0   delta 0   forecast 0,  baseline 0:  slip 0,  vs original 0
    #   +14 vendor   from 0   to 14  delta 14  forecast 14, baseline 0:  slip 14, vs original 14
    #   +7 client    from 14  to 21  delta 7   forecast 21, baseline 0:  slip 21, vs original 21
    #   -3 pmo       from 21  to 18  delta -3  forecast 18, baseline 0:  slip 18, vs original 18
    #   re-baseline  from 0   to 18  delta 0   forecast 18, baseline 18: slip 0,  vs original 18
    #   achieved     from 18  to 20  delta 2   actual 20,   baseline 18: slip 2,  vs original 20
    expected = [
        ("planned", None, b(0), 0, b(0), b(0), None, 0, 0, None, None),
        ("rescheduled", b(0), b(14), 14, b(14), b(0), None, 14, 14, "vendor_delay", "vendor"),
        ("rescheduled", b(14), b(21), 7, b(21), b(0), None, 21, 21, "client_dependency", "client"),
        ("rescheduled", b(21), b(18), -3, b(18), b(0), None, 18, 18, "resource_constraint", "pmo"),
        ("rebaselined", b(0), b(18), 0, b(18), b(18), None, 0, 18, None, None),
        ("achieved", b(18), b(20), 2, b(18), b(18), b(20), 2, 20, "technical_issue", "vendor"),
    ]  # fmt: skip
    assert [tuple(r[f] for f in SLIP_FIELDS) for r in rows] == expected
    events = [e for e in ledger.history(CODE) if not isinstance(e, ev.EngagementOpened)]
    assert [(r["version"], r["recorded_at"]) for r in rows] == [
        (e.originator_version, e.timestamp.isoformat()) for e in events
    ]
    assert {(r["code"], r["milestone_title"], r["original_baseline"], r["actor"]) for r in rows} == {
        (CODE, "UAT sign-off", b(0), "dana")
    }
    rebaselined = rows[4]
    assert (rebaselined["change_ref"], rebaselined["approved_by"]) == ("CR-042", "J. Ortega")
    assert rebaselined["reason"] == "Re-plan approved by the steering committee"


def test_attribution_of_the_hand_computed_milestone_separates_slips_recoveries_and_rebaselines(
    ledger: Ledger,
) -> None:
    record_hand_computed_case(ledger)
    with projected(ledger) as db:
        total = attribution(db, ID)
        last = slip_history(db, ID)[-1]
    # By hand: slips +14 (vendor, vendor_delay), +7 (client, client_dependency) and the late
    # achievement +2 (vendor, technical_issue): gross 14 + 7 + 2 = 23. Recovery -3 (pmo,
    # resource_constraint): 3. Net 23 - 3 = 20, which is also the slip against the original
    # baseline at the end; the re-baseline (+18) is not a slip, so against the current one: 2.
    assert (total.overall.gross, total.overall.recoveries, total.overall.net) == (23, 3, 20)
    assert total.by_party == {
        "vendor": Tally(gross=16, recoveries=0),  # 14 + 2
        "client": Tally(gross=7, recoveries=0),
        "pmo": Tally(gross=0, recoveries=3),  # net -3
    }
    assert total.by_party["pmo"].net == -3
    assert total.by_cause == {
        "vendor_delay": Tally(gross=14, recoveries=0),
        "client_dependency": Tally(gross=7, recoveries=0),
        "resource_constraint": Tally(gross=0, recoveries=3),
        "technical_issue": Tally(gross=2, recoveries=0),
    }
    assert (total.rebaselines, total.rebaseline_days) == (1, 18)
    assert (last["slip_days"], last["slip_vs_original_days"]) == (2, 20)


def test_recoveries_without_a_cause_are_unattributed_and_other_events_write_nothing(ledger: Ledger) -> None:
    record(
        ledger,
        opened(),
        c.AddScopeItem(code=CODE, key="gl", title="General ledger", reason="In the SOW"),
        c.PlanMilestone(code=CODE, key="design", title="Design sign-off", baseline=date(2026, 2, 20)),
        c.PlanMilestone(code=CODE, key="go-live", title="Go-live", baseline=date(2026, 8, 31)),
        c.AddTask(code=CODE, key="blueprint", title="Blueprint workshops", milestone_key="design"),
        c.RescheduleMilestone(code=CODE, key="design", to_date=date(2026, 2, 16), reason="Went faster"),
        c.AchieveMilestone(code=CODE, key="design", actual_on=date(2026, 2, 13)),
    )
    with projected(ledger) as db:
        rows = slip_history(db, ID)
        total = attribution(db, ID)
        series = mta_series(db, ID)
    assert [(r["milestone_key"], r["kind"], r["delta_days"]) for r in rows] == [
        ("design", "planned", 0),
        ("go-live", "planned", 0),
        ("design", "rescheduled", -4),  # 02-20 -> 02-16
        ("design", "achieved", -3),  # 02-16 -> 02-13, early
    ]
    assert total.overall == Tally(gross=0, recoveries=7)
    assert total.by_party == total.by_cause == {UNATTRIBUTED: Tally(gross=0, recoveries=7)}
    assert (total.rebaselines, total.rebaseline_days) == (0, 0)
    assert [s.key for s in series] == ["design", "go-live"]
    never_moved = series[1]
    planned_at = datetime.fromisoformat(rows[1]["recorded_at"])
    assert never_moved.points == [MtaPoint(planned_at, date(2026, 8, 31), date(2026, 8, 31), "planned")]
    assert (never_moved.status, never_moved.achieved, never_moved.rebaselines) == ("open", None, [])


def test_the_demo_has_one_mta_line_per_milestone_with_the_points_of_its_history(
    store: dict[str, str],
) -> None:
    seed_demo(store)
    with Ledger(store) as ledger, projected(ledger) as db:
        series = {s.key: s for s in mta_series(db, ID)}
        pilot_rows = slip_history(db, ID, "portal-pilot")
    assert list(series) == ["design-signoff", "build-complete", "uat-signoff", "go-live", "portal-pilot"]
    # From api/demo.py: planned for 05-29 on 01-06; +14 (CR-007) on 03-16, +7 (vendor) on 04-20,
    # -3 (second team) on 05-11; achieved on 06-16, as last forecast. Never re-baselined.
    committed = date(2026, 5, 29)
    build = series["build-complete"]
    assert build.title == "Build complete"
    assert build.points == [
        MtaPoint(at("2026-01-06 10:00"), committed, committed, "planned"),
        MtaPoint(at("2026-03-16 10:30"), date(2026, 6, 12), committed, "rescheduled"),
        MtaPoint(at("2026-04-20 16:30"), date(2026, 6, 19), committed, "rescheduled"),
        MtaPoint(at("2026-05-11 12:00"), date(2026, 6, 16), committed, "rescheduled"),
        MtaPoint(at("2026-06-16 18:00"), date(2026, 6, 16), committed, "achieved"),
    ]
    assert (build.status, build.achieved, build.rebaselines) == ("achieved", build.points[-1], [])
    go_live = series["go-live"]
    assert go_live.rebaselines == [
        MtaPoint(at("2026-05-14 15:00"), date(2026, 9, 28), date(2026, 9, 28), "rebaselined")
    ]
    assert go_live.achieved == MtaPoint(
        at("2026-10-02 20:00"), date(2026, 10, 2), date(2026, 9, 28), "achieved"
    )
    pilot = series["portal-pilot"]
    assert ([p.kind for p in pilot.points], pilot.status) == (["planned", "cancelled"], "cancelled")
    cancelled = pilot_rows[-1]
    assert (cancelled["from_date"], cancelled["to_date"], cancelled["delta_days"]) == ("2026-09-15", None, 0)


def test_the_demo_attribution_adds_up_by_party_and_cause(store: dict[str, str]) -> None:
    seed_demo(store)
    with Ledger(store) as ledger, projected(ledger) as db:
        total = attribution(db, ID)
    # From api/demo.py, forecast moves: design +5 (client, client_dependency); build +14 (client,
    # scope_change), +7 (vendor, vendor_delay), -3 (pmo, resource_constraint); go-live +28 (client,
    # scope_change), +4 (vendor, technical_issue); uat +14 (third_party) and achieved 5 days late
    # (client, client_dependency). Other achievements were on their forecast (delta 0).
    assert total.overall == Tally(gross=77, recoveries=3)
    assert total.by_party == {
        "client": Tally(gross=52, recoveries=0),  # 5 + 14 + 28 + 5
        "vendor": Tally(gross=11, recoveries=0),  # 7 + 4
        "pmo": Tally(gross=0, recoveries=3),
        "third_party": Tally(gross=14, recoveries=0),
    }
    assert total.by_cause == {
        "client_dependency": Tally(gross=10, recoveries=0),  # 5 + 5
        "scope_change": Tally(gross=42, recoveries=0),  # 14 + 28
        "vendor_delay": Tally(gross=7, recoveries=0),
        "resource_constraint": Tally(gross=0, recoveries=3),
        "third_party": Tally(gross=14, recoveries=0),
        "technical_issue": Tally(gross=4, recoveries=0),
    }
    assert (total.rebaselines, total.rebaseline_days) == (1, 28)  # go-live 08-31 -> 09-28


class _ScriptedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def all_rows(db: ProjectionDB) -> list[Row]:
    return db.query("SELECT * FROM slip_history ORDER BY position")


def test_projecting_in_batches_of_three_equals_one_go_equals_a_rebuild(store: dict[str, str]) -> None:
    clock = _ScriptedClock()
    with Ledger(store, clock=clock) as ledger:
        db = open_projection_db(ledger.settings)
        try:
            live = Runner(ledger, db, [SlipHistory()], batch_size=3)
            for n, step in enumerate(demo_steps(), start=1):
                clock.now = step.at
                ledger.execute(step.command, actor=step.actor)
                if n % 4 == 0:
                    live.catch_up()
            live.catch_up()
            in_batches = all_rows(db)
            batches: list[Any] = []
            Runner(ledger, db, [SlipHistory()], batch_size=10_000).rebuild(lambda *p: batches.append(p))
            in_one_go = all_rows(db)
            live.rebuild()
            rebuilt = all_rows(db)
        finally:
            db.close()
    assert len(batches) == 1
    # 5 planned, 7 rescheduled, 1 re-baselined, 4 achieved, 1 cancelled
    assert len(in_batches) == 18
    assert in_batches == in_one_go == rebuilt
