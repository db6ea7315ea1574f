"""The schedule-slip history read model: every dated move of every milestone, and what it adds up to.

One row per ``MilestonePlanned``, ``MilestoneRescheduled``, ``MilestoneRebaselined``,
``MilestoneAchieved`` and ``MilestoneCancelled`` event (table ``slip_history``, append-only);
other events write nothing. Each row carries the dates the event moved and the milestone's
dates just after it, taken from the event and ``Change.after``, never from the clock.

What a row says, by ``kind``:

- ``planned``: ``from_date`` NULL, ``to_date`` the baseline, ``delta_days`` 0.
- ``rescheduled``: the forecast moved ``from_date`` -> ``to_date``; ``delta_days`` is the
  event's (positive = later), with its cause and responsible party.
- ``rebaselined``: the *baseline* moved ``from_date`` -> ``to_date`` under change control
  (``change_ref``, ``approved_by``). A re-baseline moves the commitment, not the forecast, so
  ``delta_days`` (a forecast move) is 0; only the slip against the current baseline changes.
- ``achieved``: ``from_date`` the forecast, ``to_date`` the actual date, ``delta_days`` =
  actual - forecast (positive = achieved late, with the event's cause and party).
- ``cancelled``: ``from_date`` the last forecast, ``to_date`` NULL, ``delta_days`` 0. It is
  recorded so that the MTA chart can end the milestone's line instead of leaving it open.

After every event: ``slip_days`` = (actual, else forecast) - current baseline, and
``slip_vs_original_days`` = (actual, else forecast) - original baseline, in calendar days.

**MTA chart** (``mta_series``): one series per milestone, in the order they were planned;
x = recorded time of the event, y = the forecast after it (the actual date for the achieved
point). Re-baseline, achieved and cancelled points are marked by their ``kind``.

**Slip attribution** (``attribution``): every forecast move counts, that is the deltas of
``rescheduled`` and ``achieved`` rows. *Gross* slip is the sum of the positive deltas,
*recoveries* the sum of the magnitudes of the negative ones, *net* = gross - recoveries (for
one milestone, net = final date - first forecast, re-baselines aside). They are tallied
overall, by responsible party and by cause; a move without a party or cause is
``unattributed``. Moves of milestones later cancelled still count: they happened. Re-baselines
are not slips: they are reported apart, as a count and the signed sum of baseline moves in days.
"""

from projections.slips.attribution import UNATTRIBUTED, Attribution, Tally, attributed, attribution
from projections.slips.mta import MtaPoint, MtaSeries, mta_series, series_of
from projections.slips.table import COLUMNS, SlipHistory, slip_history

__all__ = [
    "COLUMNS",
    "UNATTRIBUTED",
    "Attribution",
    "MtaPoint",
    "MtaSeries",
    "SlipHistory",
    "Tally",
    "attributed",
    "attribution",
    "mta_series",
    "series_of",
    "slip_history",
]
