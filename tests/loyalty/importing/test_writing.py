"""What a real import writes: members, orders, points by date, refunds, re-imports, tiers."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.db import connection

from loyalty.importing.pipeline import import_orders
from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import (
    Account,
    Debt,
    ExchangeRate,
    ImportRun,
    Lot,
    MemberTier,
    Order,
    Posting,
    Refund,
    TierChange,
)
from loyalty.services.tier_config import tier_save
from members.actors import Actor
from members.models import Member
from members.services import member_erase
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

REFUNDED_HEADER = ORDERS_HEADER + ",refunded_total"


def postings_checksum() -> str:
    rows = Posting.objects.order_by("idempotency_key").values_list(
        "idempotency_key", "kind", "points", "member__external_id", "effective_at"
    )
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def balance(external_id: str) -> tuple[int, int, int]:
    account = Account.objects.get(member__external_id=external_id)
    return account.available, account.pending, account.lifetime_earned


def test_points_are_pending_available_or_expired_by_the_order_date(run_import, csv_file):
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,a@b.co,{days_ago(5)},100.00,GBP\n"  # pending (14 days)
        f"O-2,C-1,a@b.co,{days_ago(30)},20.00,GBP\n"  # available
        f"O-3,C-1,a@b.co,{days_ago(400)},7.00,GBP\n"  # expired (14 + 365 days)
    )

    result = run_import(path)

    assert (result.orders_created, result.points_posted, result.points_expired) == (3, 120, 7)
    assert balance("C-1") == (20, 100, 127)
    assert sorted(Lot.objects.values_list("points", "remaining", "matured")) == [
        (7, 0, True),
        (20, 20, True),
        (100, 100, False),
    ]
    expiry = Posting.objects.get(kind="expire")
    assert (expiry.points, expiry.effective_at) == (-7, Lot.objects.get(points=7).expires_at)
    assert (
        Member.objects.get(external_id="C-1").enrolled_at
        == Order.objects.get(order_id="O-3").placed_at
    )


def test_a_refunded_total_reverses_the_orders_own_points(run_import, csv_file):
    path = csv_file(f"{REFUNDED_HEADER}\nO-1,C-1,a@b.co,{days_ago(30)},80.50,GBP,30.25\n")

    run_import(path)

    order = Order.objects.get(order_id="O-1")
    refund = Refund.objects.get()
    assert (refund.refund_id, refund.amount, refund.points_reversed) == (
        "O-1~R3025",
        Decimal("30.25"),
        30,  # floor(80 × 30.25 / 80.50)
    )
    assert (order.refunded_total, order.points_reversed) == (Decimal("30.25"), 30)
    assert balance("C-1") == (50, 0, 80)


def test_the_same_file_twice_changes_nothing_the_second_time(run_import, csv_file):
    path = csv_file(
        f"{REFUNDED_HEADER}\n"
        f"O-1,C-1,a@b.co,{days_ago(30)},80.00,GBP,10.00\n"
        f"O-2,C-2,b@b.co,{days_ago(3)},20.00,GBP,\n"
    )
    first = run_import(path)
    before = (postings_checksum(), Member.objects.count(), Order.objects.count())

    second = run_import(path)

    assert (first.orders_created, first.refunds_created) == (2, 1)
    assert (second.status, second.orders_created, second.orders_present) == ("succeeded", 0, 2)
    assert (second.refunds_created, second.members_created, second.points_posted) == (0, 0, 0)
    assert (postings_checksum(), Member.objects.count(), Order.objects.count()) == before


def test_a_later_export_with_more_refunded_adds_only_the_difference(run_import, csv_file):
    placed = days_ago(30)
    run_import(csv_file(f"{REFUNDED_HEADER}\nO-1,C-1,a@b.co,{placed},80.00,GBP,10.00\n"))

    result = run_import(csv_file(f"{REFUNDED_HEADER}\nO-1,C-1,a@b.co,{placed},80.00,GBP,30.00\n"))

    assert (result.status, result.orders_present, result.refunds_created) == ("succeeded", 1, 1)
    assert sorted(Refund.objects.values_list("refund_id", "amount", "points_reversed")) == [
        ("O-1~R1000", Decimal("10.00"), 10),
        ("O-1~R3000", Decimal("20.00"), 20),
    ]
    assert Order.objects.get().refunded_total == Decimal("30.00")


def test_a_later_export_with_less_refunded_is_a_conflict(run_import, csv_file):
    placed = days_ago(30)
    run_import(csv_file(f"{REFUNDED_HEADER}\nO-1,C-1,a@b.co,{placed},80.00,GBP,30.00\n"))

    result = run_import(csv_file(f"{REFUNDED_HEADER}\nO-1,C-1,a@b.co,{placed},80.00,GBP,10.00\n"))

    assert result.status == "rejected"
    assert result.errors == [
        (
            2,
            "refunded_total",
            "1000",
            "refund_conflict",
            "row 2: order O-1 already has more refunded than the file says",
        )
    ]


def test_an_order_recorded_with_other_content_is_a_conflict(run_import, csv_file, record_order):
    run_import(csv_file(f"{ORDERS_HEADER}\nO-1,C-1,a@b.co,{days_ago(30)},80.00,GBP\n"))
    path = csv_file(
        f"{ORDERS_HEADER}\nO-1,C-1,a@b.co,{days_ago(30)},81.00,GBP\n"
        f"O-2,C-1,a@b.co,{days_ago(20)},5.00,GBP\n"
    )

    rejected = run_import(path)
    partial = run_import(path, skip_invalid=True)

    assert rejected.errors == [
        (
            2,
            "order_id",
            "O-1",
            "order_conflict",
            "row 2: order O-1 is already recorded with different content",
        )
    ]
    assert (partial.status, partial.orders_created, partial.rows_rejected) == ("partial", 1, 1)
    assert Order.objects.get(order_id="O-1").total == Decimal("80.00")


def test_an_existing_member_gets_the_orders_and_keeps_their_details(
    run_import, csv_file, make_member
):
    member = make_member(external_id="C-1", email="real@example.com", first_name="Real")
    path = csv_file(f"{ORDERS_HEADER},first_name\nO-1,C-1,other@b.co,{days_ago(30)},9,GBP,Fake\n")

    result = run_import(path)

    member.refresh_from_db()
    assert (result.members_created, member.email, member.first_name) == (
        0,
        "real@example.com",
        "Real",
    )
    assert Order.objects.get().member_id == member.pk
    assert balance("C-1") == (9, 0, 9)


def test_newly_available_points_pay_off_a_debt_first(run_import, csv_file, member_in_debt):
    member_in_debt("C-1")

    run_import(csv_file(f"{ORDERS_HEADER}\nO-1,C-1,a@b.co,{days_ago(60)},80.00,GBP\n"))

    assert Debt.objects.get().remaining == 20
    assert balance("C-1")[:2] == (-20, 0)


def test_an_email_another_member_uses_is_rejected(run_import, csv_file, make_member):
    make_member(external_id="X-9", email="taken@example.com")
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,taken@example.com,{days_ago(30)},9,GBP\n"
        f"O-2,C-2,same@example.com,{days_ago(30)},9,GBP\n"
        f"O-3,C-3,same@example.com,{days_ago(30)},9,GBP\n"
    )

    result = run_import(path)

    assert result.errors == [
        (
            2,
            "email",
            "taken@example.com",
            "email_taken",
            "row 2: taken@example.com: another member already uses this email",
        ),
        (
            4,
            "email",
            "same@example.com",
            "email_taken",
            "row 4: same@example.com: customer C-2 of this file already uses this email",
        ),
    ]


def test_an_erased_members_orders_are_rejected(run_import, csv_file, make_member, system_actor):
    member_erase(member=make_member(external_id="C-1"), actor=system_actor)

    result = run_import(csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(30)},9,GBP\n"))

    assert [e[3] for e in result.errors] == ["member_erased"]
    assert Order.objects.count() == 0


def test_orders_in_another_currency_convert_at_the_configured_rate(run_import, csv_file):
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("0.85"))

    run_import(csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(30)},100.00,EUR\n"))

    order = Order.objects.get()
    assert (order.currency, order.eligible_amount, order.points_base) == (
        "EUR",
        Decimal("85.00"),
        85,
    )


def test_every_imported_member_gets_their_tier_with_an_import_entry(
    run_import, csv_file, system_actor
):
    for code, rank, threshold in (("bronze", 0, "0"), ("silver", 1, "100"), ("gold", 2, "500")):
        tier_save(
            actor=system_actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal("1"),
        )
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,,{days_ago(30)},150.00,GBP\n"
        f"O-2,C-2,,{days_ago(30)},20.00,GBP\n"
        f"O-3,C-3,,{days_ago(500)},900.00,GBP\n"
    )

    result = run_import(path)

    assert result.tier_changes == 1
    assert dict(MemberTier.objects.values_list("member__external_id", "tier__code")) == {
        "C-1": "silver"
    }
    change = TierChange.objects.get()
    assert (change.kind, change.to_tier.code, change.qualifying_spend) == (
        "import",
        "silver",
        Decimal("150.00"),
    )


def test_the_run_is_recorded_with_who_what_and_the_counts(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(30)},9.99,GBP\n", name="shop.csv")

    result = run_import(path)

    run = ImportRun.objects.get()
    assert run == result.run
    assert (run.file_name, run.format, run.status, run.actor_label, run.via) == (
        "shop.csv",
        "orders",
        "succeeded",
        "system:tests",
        "command",
    )
    assert run.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (run.rows_read, run.orders_created, run.members_created, run.points_posted) == (
        1,
        1,
        1,
        9,
    )
    assert run.finished_at >= run.started_at
    assert run.duration.total_seconds() >= 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_commit_without_waiting_for_the_disk_and_the_session_keeps_its_setting(tmp_path):
    """Each chunk's transaction sets `synchronous_commit = off` for itself only (`SET LOCAL`):
    the connection's later transactions (the run's final record, the admin's next request)
    commit synchronously again."""
    path = orders_csv_write(tmp_path / "orders.csv", orders=300)
    during, between = [], []

    def show() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    def watch(execute, sql, params, many, context):
        outcome = execute(sql, params, many, context)
        if sql.lstrip().startswith("INSERT INTO loyalty_order "):
            during.append(show())
        return outcome

    def progress(phase, done, total):
        if phase == "write":
            between.append(show())

    with connection.cursor() as cursor:  # whatever the server's default (tests: off)
        cursor.execute("SET synchronous_commit = on")
    try:
        with connection.execute_wrapper(watch):
            result = import_orders(
                path=path, actor=Actor.system("tests"), progress=progress, chunk_orders=100
            )
        after = show()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO DEFAULT")

    assert result.status == "succeeded"
    assert result.orders_created == 300
    assert len(during) >= 3
    assert set(during) == {"off"}
    assert set(between) == {"on"}
    assert after == "on"
