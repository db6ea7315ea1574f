"""Decisions on scope items: every change needs a reason."""

from __future__ import annotations

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.decide.common import Context, open_engagement, require_reason, stamp
from domain.state import Engagement, ScopeItem
from domain.values import unique_key


def _live_item(s: Engagement, key: str) -> ScopeItem:
    item = s.scope.get(key)
    if item is None:
        raise errors.UnknownScopeItem(f"no scope item {key!r} in {s.code}")
    if item.removed:
        raise errors.ScopeItemAlreadyRemoved(f"scope item {key!r} was removed")
    return item


def add(state: Engagement | None, c: cmd.AddScopeItem, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if c.key is not None and c.key in s.scope:
        raise errors.ScopeItemAlreadyExists(f"scope item {c.key!r} exists already")
    require_reason(c, "adding scope")
    key = c.key or unique_key(c.title, set(s.scope))
    return [ev.ScopeItemAdded(**stamp(s, c, ctx), key=key, title=c.title, description=c.description)]


def revise(state: Engagement | None, c: cmd.ReviseScopeItem, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    item = _live_item(s, c.key)
    title = item.title if c.title is None else c.title
    description = item.description if c.description is None else c.description
    if (title, description) == (item.title, item.description):
        return []
    require_reason(c, "revising scope")
    return [
        ev.ScopeItemRevised(
            **stamp(s, c, ctx),
            key=c.key,
            from_title=item.title,
            to_title=title,
            from_description=item.description,
            to_description=description,
        )
    ]


def remove(state: Engagement | None, c: cmd.RemoveScopeItem, ctx: Context) -> list[ev.Event]:
    s = open_engagement(state)
    if c.key in s.scope and s.scope[c.key].removed:
        return []
    item = _live_item(s, c.key)
    require_reason(c, "removing scope")
    return [ev.ScopeItemRemoved(**stamp(s, c, ctx), key=c.key, title=item.title)]
