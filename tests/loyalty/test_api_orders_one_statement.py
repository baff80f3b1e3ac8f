"""PostgreSQL: an order and its postings written in one statement leave exactly the rows the
usual path leaves, and a repeat through it writes nothing. Two such statements: the common case
(`order_earn_statement`: the account lock too, no transaction around it) and, when that case does
not apply but no campaign can add a bonus (a tier, points available at once), the order with its
postings after the lock (`order_credits_post`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from events.models import Event
from loyalty import hooks
from loyalty.models import Account, Lot, Order, Posting
from loyalty.selectors.program import program_settings
from loyalty.services import orders as order_services
from loyalty.services.ledger import account_open
from loyalty.services.program import program_settings_update
from loyalty.services.tier_config import tier_save
from members.actors import Actor
from tests.loyalty.test_api_orders import iso, order_body, placed, post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

POSTING_FIELDS = (
    "kind",
    "points",
    "effective_at",
    "available_at",
    "expires_at",
    "source_type",
    "actor_kind",
    "actor_label",
    "actor_api_key_id",
    "actor_user_id",
    "campaign_code",
    "reward_code",
    "reverses_id",
    "reason",
    "refund_id",
)
LOT_FIELDS = ("points", "remaining", "available_at", "expires_at", "matured")


@pytest.fixture
def one_statement_calls(monkeypatch, db):
    """Which one-statement path each order took: "earn" (`order_earn_statement`) or "order"
    (`order_credits_post`). From the second order on: the first finds out, and caches, that no
    campaign can apply."""
    program_settings()  # creating the settings record changes the configuration version
    calls = []
    for name, label in (("order_earn_statement", "earn"), ("order_credits_post", "order")):
        real = getattr(order_services, name)

        def spy(real=real, label=label, **kwargs):
            calls.append(label)
            return real(**kwargs)

        monkeypatch.setattr(order_services, name, spy)
    return calls


def rows_of(member) -> dict:
    postings = list(Posting.objects.filter(member=member).order_by("kind", "pk"))
    order = Order.objects.get(member=member)
    return {
        "postings": [tuple(getattr(p, f) for f in POSTING_FIELDS) for p in postings],
        "keys": [p.idempotency_key.replace(order.order_id, "#") for p in postings],
        "descriptions": [p.description.replace(order.order_id, "#") for p in postings],
        "posting_orders": {p.order_id for p in postings},
        "source_ids": {p.source_id for p in postings},
        "lots": [
            tuple(getattr(lot, f) for f in LOT_FIELDS)
            for lot in Lot.objects.filter(member=member).order_by("posting__kind", "pk")
        ],
        "lot_postings": sorted(
            Lot.objects.filter(member=member).values_list("posting_id", flat=True)
        ),
        "account": Account.objects.filter(member=member).values_list(
            "available", "pending", "lifetime_earned"
        )[0],
        "order_id": order.order_id,
        "order_pk": order.pk,
        "posting_pks": sorted(p.pk for p in postings),
        # The order's event (the member's own id and the order's id set aside: they differ).
        "events": [
            (e.type, e.sequence, e.schema_version, e.occurred_at, _as_if_order_hash(e, member))
            for e in Event.objects.filter(member_id=member.pk, type="points.earned")
        ],
    }


def _as_if_order_hash(event, member) -> dict:
    payload = dict(event.payload)
    assert payload.pop("member_external_id") == member.external_id
    if "order_id" in payload:
        payload["order_id"] = "#"
    return payload


@pytest.mark.parametrize(
    ("days_ago", "multiplier", "path"),
    [(0, None, "earn"), (400, None, "order"), (0, "1.50", "order")],
    ids=["pending", "available at once", "with a tier bonus"],
)
def test_one_statement_writes_what_the_usual_path_writes(
    api_client, make_member, one_statement_calls, monkeypatch, days_ago, multiplier, path
):
    if multiplier:  # an entry tier that multiplies: earn and tier bonus, two postings
        tier_save(
            actor=Actor.system("tests"),
            code="BASE",
            name="Base",
            rank=0,
            threshold=Decimal("0"),
            multiplier=Decimal(multiplier),
        )
    warm, one, two = make_member(), make_member(), make_member()
    for enrolled in (one, two):  # as the storefront's enrolment leaves them
        account_open(member_id=enrolled.pk)
    post(api_client, order_body(order_id="O-warm", member=warm.external_id))  # fills the cache
    one_statement_calls.clear()
    when = iso(placed(days=-days_ago))
    first = post(api_client, order_body(order_id="O-A", member=one.external_id, placed_at=when))
    assert one_statement_calls == [path]
    monkeypatch.setattr(hooks, "order_bonus_quiet", {})  # campaigns' hook no longer "quiet"
    second = post(api_client, order_body(order_id="O-B", member=two.external_id, placed_at=when))
    assert one_statement_calls == [path]  # the second went the usual way

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() | {"order_id": "O-B"} == second.json()
    a, b = rows_of(one), rows_of(two)
    for key in ("postings", "keys", "descriptions", "lots", "account"):
        assert a[key] == b[key], key
    assert [e[:3] + e[4:] for e in a["events"]] == [e[:3] + e[4:] for e in b["events"]]
    assert [e[:3] for e in a["events"]] == [("points.earned", 2, 1)]  # after member.enrolled
    points = 184 if multiplier else 123  # 123 + floor(123 × 0.5)
    assert a["events"][0][4]["points"] == points
    assert [p[:2] for p in a["postings"]] == [("earn", 123)] + (
        [("tier_bonus", 61)] if multiplier else []
    )
    assert a["account"] == ((points, 0, points) if days_ago else (0, points, points))
    for rows in (a, b):
        assert rows["posting_orders"] == {rows["order_pk"]}
        assert rows["source_ids"] == {rows["order_id"]}
        assert rows["lot_postings"] == rows["posting_pks"]


def test_a_repeat_through_one_statement_writes_nothing(
    api_client, member, make_member, one_statement_calls
):
    account_open(member_id=member.pk)
    post(api_client, order_body(order_id="O-warm", member=make_member().external_id))
    one_statement_calls.clear()
    created = post(api_client, order_body())
    counts = (
        Order.objects.count(),
        Posting.objects.count(),
        Lot.objects.count(),
        Event.objects.count(),
    )
    account = Account.objects.filter(member=member).values_list("available", "pending")[0]

    again = post(api_client, order_body())
    other = post(api_client, order_body(total="99.00"))

    assert one_statement_calls == ["earn"] * 3  # the first, the repeat and the conflict
    assert (created.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json() == created.json()
    assert other.json()["code"] == "order_conflict"
    assert (
        Order.objects.count(),
        Posting.objects.count(),
        Lot.objects.count(),
        Event.objects.count(),
    ) == counts
    assert Account.objects.filter(member=member).values_list("available", "pending")[0] == account


def test_a_member_enrolled_through_the_api_earns_in_one_statement(api_client, one_statement_calls):
    # enrolled before the orders are placed (an order placed before enrolment is refused)
    put = api_client.put(
        "/api/v1/members/C-7",
        {"email": "c7@example.com", "enrolled_at": "2024-01-01T00:00:00Z"},
        format="json",
    )
    post(api_client, order_body(order_id="O-warm", member="C-7"))  # fills the cache
    one_statement_calls.clear()

    response = post(api_client, order_body(order_id="O-7", member="C-7"))

    assert (put.status_code, response.status_code) == (201, 201)
    assert one_statement_calls == ["earn"]
    assert response.json()["member"]["points"] == {"available": 0, "pending": 246}


def test_without_an_account_or_after_a_change_the_usual_path_writes_once(
    api_client, make_member, one_statement_calls
):
    warm, member = make_member(), make_member()
    post(api_client, order_body(order_id="O-warm", member=warm.external_id))  # fills the cache
    one_statement_calls.clear()

    no_account = post(api_client, order_body(order_id="O-1", member=member.external_id))
    program_settings_update(actor=Actor.system("tests"), earn_rate=Decimal("2"))
    changed = post(api_client, order_body(order_id="O-2", member=member.external_id))
    after = post(api_client, order_body(order_id="O-3", member=member.external_id))

    # each time the one statement wrote nothing (no account to lock; a configuration version it
    # no longer matches) and the usual path wrote the order, once
    assert one_statement_calls == ["earn", "order", "earn", "earn"]
    assert [r.json()["points"]["base"] for r in (no_account, changed, after)] == [123, 247, 247]
    assert Order.objects.filter(member=member).count() == 3
    assert Posting.objects.filter(member=member).count() == 3
    assert Account.objects.filter(member=member).values_list("pending", flat=True)[0] == 617
    assert list(
        Event.objects.filter(member_id=member.pk, type="points.earned").values_list(
            "sequence", "payload__points"
        )
    ) == [(2, 123), (3, 247), (4, 247)]  # one event per order, whichever path wrote it


def test_an_unknown_or_erased_member_is_answered_as_without_the_one_statement(
    api_client, make_member, one_statement_calls
):
    from members.services import member_erase

    warm, erased = make_member(), make_member()
    account_open(member_id=erased.pk)
    post(api_client, order_body(order_id="O-warm", member=warm.external_id))  # fills the cache
    member_erase(member=erased, actor=Actor.system("tests"))
    one_statement_calls.clear()

    unknown = post(api_client, order_body(order_id="O-1", member="C-NOBODY"))
    gone = post(api_client, order_body(order_id="O-2", member=erased.external_id))

    assert one_statement_calls == ["earn", "earn"]  # each found no member, wrote nothing
    assert (unknown.status_code, unknown.json()["code"]) == (404, "member_not_found")
    assert (gone.status_code, gone.json()["code"]) == (410, "member_erased")
    assert not Order.objects.filter(order_id__in=["O-1", "O-2"]).exists()
    assert not Event.objects.filter(member_id=erased.pk, type="points.earned").exists()
