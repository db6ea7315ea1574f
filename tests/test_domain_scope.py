"""Domain tests of scope items: added, revised and removed, each only with a reason."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from domain import commands as c
from domain import errors
from domain import events as ev
from domain.values import engagement_id
from tests.support import CODE, NOW, head, opened, state_of, when

ID = engagement_id(CODE)


def add(key: str | None = "sso", title: str = "Single sign-on", **fields: Any) -> c.AddScopeItem:
    values: dict[str, Any] = {"reason": "in the SOW", "description": "SAML login for staff"} | fields
    return c.AddScopeItem(code=CODE, key=key, title=title, **values)


def remove(key: str = "sso", reason: str | None = "client dropped it") -> c.RemoveScopeItem:
    return c.RemoveScopeItem(code=CODE, key=key, reason=reason)


def added_keys(*commands: c.Command) -> list[str]:
    state = state_of(*commands)
    return list(state.scope)


# Add
def test_adding_a_scope_item_records_its_key_title_description_and_why() -> None:
    command = add(change_ref="CR-12", internal_note="upsell", effective_on=NOW.date())

    assert when(state_of(opened()), command) == [
        ev.ScopeItemAdded(
            **head(
                2, reason="in the SOW", change_ref="CR-12", internal_note="upsell", effective_on=NOW.date()
            ),
            key="sso",
            title="Single sign-on",
            description="SAML login for staff",
        )
    ]


def test_a_scope_item_may_be_added_without_a_description() -> None:
    command = c.AddScopeItem(code=CODE, key="sso", title="Single sign-on", reason="in the SOW")
    (event,) = when(state_of(opened()), command)
    assert isinstance(event, ev.ScopeItemAdded)
    assert event.description == ""


@pytest.mark.parametrize("reason", [None, "", "  \n "])
def test_adding_scope_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened()), add(reason=reason))


def test_adding_a_scope_item_with_a_key_that_exists_is_refused() -> None:
    with pytest.raises(errors.ScopeItemAlreadyExists):
        when(state_of(opened(), add()), add(title="Another sign-on"))


def test_the_key_of_a_removed_scope_item_is_not_given_out_again() -> None:
    # The removed item keeps its key in the history, so a new item cannot take it over.
    with pytest.raises(errors.ScopeItemAlreadyExists):
        when(state_of(opened(), add(), remove()), add())


def test_a_scope_item_added_without_a_key_gets_a_slug_of_its_title() -> None:
    (event,) = when(state_of(opened()), add(key=None, title="UAT sign-off (phase 1)"))
    assert isinstance(event, ev.ScopeItemAdded)
    assert event.key == "uat-sign-off-phase-1"


def test_server_assigned_scope_keys_are_made_unique_with_a_counter() -> None:
    keys = added_keys(
        opened(),
        add(key=None, title="Reporting"),
        add(key=None, title="reporting!"),
        add(key=None, title="  REPORTING  "),
    )
    assert keys == ["reporting", "reporting-2", "reporting-3"]


def test_a_server_assigned_scope_key_skips_the_key_of_a_removed_item() -> None:
    keys = added_keys(opened(), add(key="reporting"), remove("reporting"), add(key=None, title="Reporting"))
    assert keys == ["reporting", "reporting-2"]


def test_a_title_without_letters_or_digits_gets_a_generic_key() -> None:
    (event,) = when(state_of(opened()), add(key=None, title="???"))
    assert isinstance(event, ev.ScopeItemAdded)
    assert event.key == "item"


def test_a_long_title_gives_a_key_of_at_most_48_characters() -> None:
    (event,) = when(state_of(opened()), add(key=None, title="Data migration " * 10))
    assert isinstance(event, ev.ScopeItemAdded)
    assert len(event.key) <= 48
    assert event.key.startswith("data-migration-data-migration")
    assert not event.key.endswith("-")


@pytest.mark.parametrize("key", ["", "SSO", "-sso", "single sign-on", "sso_login", "é", "x" * 64])
def test_a_malformed_scope_key_is_refused(key: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.AddScopeItem(code=CODE, key=key, title="Single sign-on", reason="r")


@pytest.mark.parametrize("title", ["", "   ", "x" * 501])
def test_a_scope_item_needs_a_title_of_reasonable_length(title: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        c.AddScopeItem(code=CODE, title=title, reason="r")


# Revise
def test_revising_a_title_records_both_titles_and_the_unchanged_description() -> None:
    command = c.ReviseScopeItem(code=CODE, key="sso", title="SSO via Azure AD", reason="IT standard")

    assert when(state_of(opened(), add()), command) == [
        ev.ScopeItemRevised(
            **head(3, reason="IT standard"),
            key="sso",
            from_title="Single sign-on",
            to_title="SSO via Azure AD",
            from_description="SAML login for staff",
            to_description="SAML login for staff",
        )
    ]


def test_revising_a_description_records_both_descriptions() -> None:
    command = c.ReviseScopeItem(
        code=CODE, key="sso", description="SAML and OIDC", reason="partners too", change_ref="CR-3"
    )

    assert when(state_of(opened(), add()), command) == [
        ev.ScopeItemRevised(
            **head(3, reason="partners too", change_ref="CR-3"),
            key="sso",
            from_title="Single sign-on",
            to_title="Single sign-on",
            from_description="SAML login for staff",
            to_description="SAML and OIDC",
        )
    ]


def test_a_description_can_be_revised_to_empty() -> None:
    command = c.ReviseScopeItem(code=CODE, key="sso", description="", reason="said too much")
    (event,) = when(state_of(opened(), add()), command)
    assert isinstance(event, ev.ScopeItemRevised)
    assert (event.from_description, event.to_description) == ("SAML login for staff", "")


@pytest.mark.parametrize("reason", [None, "", " "])
def test_revising_scope_without_a_reason_is_refused(reason: str | None) -> None:
    command = c.ReviseScopeItem(code=CODE, key="sso", title="SSO", reason=reason)
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened(), add()), command)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"title": "Single sign-on"},
        {"description": "SAML login for staff"},
        {"title": " Single sign-on ", "description": "SAML login for staff "},
    ],
    ids=["nothing", "same-title", "same-description", "same-both"],
)
def test_revising_a_scope_item_to_what_it_is_records_nothing(fields: dict[str, str]) -> None:
    command = c.ReviseScopeItem(code=CODE, key="sso", **fields)
    assert when(state_of(opened(), add()), command) == []


def test_revising_an_unknown_scope_item_is_refused() -> None:
    with pytest.raises(errors.UnknownScopeItem):
        when(state_of(opened()), c.ReviseScopeItem(code=CODE, key="sso", title="SSO", reason="r"))


def test_revising_a_removed_scope_item_is_refused() -> None:
    command = c.ReviseScopeItem(code=CODE, key="sso", title="SSO", reason="r")
    with pytest.raises(errors.ScopeItemAlreadyRemoved):
        when(state_of(opened(), add(), remove()), command)


# Remove
def test_removing_a_scope_item_records_its_key_and_title() -> None:
    command = c.RemoveScopeItem(code=CODE, key="sso", reason="client dropped it", change_ref="CR-4")

    assert when(state_of(opened(), add()), command) == [
        ev.ScopeItemRemoved(
            **head(3, reason="client dropped it", change_ref="CR-4"), key="sso", title="Single sign-on"
        )
    ]


@pytest.mark.parametrize("reason", [None, "", "\t"])
def test_removing_scope_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(errors.ReasonRequired):
        when(state_of(opened(), add()), remove(reason=reason))


def test_removing_an_unknown_scope_item_is_refused() -> None:
    with pytest.raises(errors.UnknownScopeItem):
        when(state_of(opened()), remove())


def test_removing_a_removed_scope_item_records_nothing() -> None:
    assert when(state_of(opened(), add(), remove()), remove(reason=None)) == []


def test_other_scope_items_are_untouched_by_a_removal() -> None:
    state = state_of(opened(), add(), add(key="reporting", title="Reporting"), remove())
    assert state.scope["sso"].removed
    assert not state.scope["reporting"].removed
