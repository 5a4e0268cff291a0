"""The ``plan_*`` deciders and the shared vocabulary, tested directly (no store, no web)."""

from __future__ import annotations

import pytest

from newsletter.errors import InvalidAddressError
from newsletter.models import SubscriptionStatus
from newsletter.subscriptions.rules import (
    Plan,
    normalise_email,
    plan_change,
    plan_confirm,
    plan_request,
    plan_unsubscribe,
)

P, C, U = SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED, SubscriptionStatus.UNSUBSCRIBED


def test_request_makes_every_unconfirmed_choice_pending() -> None:
    statuses = {"dresden": C, "zwickau": U, "chemnitz": P}
    plan = plan_request(statuses, ["zwickau", "dresden", "chemnitz", "ostsachsen"])
    assert plan == Plan(pending=("chemnitz", "ostsachsen", "zwickau"))


def test_request_for_active_regions_only_is_empty() -> None:
    plan = plan_request({"dresden": C}, ["dresden"])
    assert plan.empty  # the caller sends a manage link instead


def test_confirm_activates_only_the_pending_regions() -> None:
    plan = plan_confirm({"dresden": P, "zwickau": U, "chemnitz": C, "ostsachsen": P})
    assert plan == Plan(confirm=("dresden", "ostsachsen"))
    assert plan_confirm({"dresden": U}).empty


def test_change_confirms_ticked_and_withdraws_unticked_regions() -> None:
    statuses = {"dresden": C, "zwickau": P, "chemnitz": U}
    plan = plan_change(statuses, ["chemnitz", "dresden"])
    assert plan == Plan(confirm=("chemnitz",), unsubscribe=("zwickau",))
    assert plan_change({"dresden": C}, ["dresden"]).empty


def test_unsubscribe_one_region_or_all_active_ones() -> None:
    statuses = {"dresden": C, "zwickau": P, "chemnitz": U}
    assert plan_unsubscribe(statuses, "dresden") == Plan(unsubscribe=("dresden",))
    assert plan_unsubscribe(statuses, None) == Plan(unsubscribe=("dresden", "zwickau"))
    assert plan_unsubscribe(statuses, "chemnitz").empty  # already withdrawn


def test_statuses_compare_equal_to_the_stored_strings() -> None:
    assert SubscriptionStatus("confirmed") is C and C == "confirmed"
    assert plan_confirm({"dresden": "pending"}) == Plan(confirm=("dresden",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Anna@Pirna.DE ", "Anna@pirna.de"),
        ("info@müglitztal.de", "info@xn--mglitztal-q9a.de"),
    ],
)
def test_one_normaliser_for_every_address(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


def test_the_normaliser_refuses_what_cannot_be_delivered() -> None:
    with pytest.raises(InvalidAddressError):
        normalise_email("jörg@pirna.de")
    with pytest.raises(InvalidAddressError):
        normalise_email("kein-at-zeichen")
