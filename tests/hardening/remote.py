"""What a fault test does on a database other than the suite's: seed it, then read it back.

`python -m tests.hardening.remote <command> '<json arguments>'` with `DATABASE_URL` naming the
database; prints one JSON line. Objects are built through our own services, as in the fixtures.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

ENROLLED_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def orders_seed(*, members: int) -> dict:
    """An API key and `members` members (`F-1`, `F-2`, ...); the raw key and the currency."""
    from rest_framework_api_key.models import APIKey

    from loyalty.selectors.program import program_settings
    from members.actors import Actor
    from members.services import member_enrol

    _, raw = APIKey.objects.create_key(name="faults")
    for n in range(1, members + 1):
        member_enrol(
            external_id=f"F-{n}",
            email=f"fault{n}@example.com",
            actor=Actor.system("faults"),
            enrolled_at=ENROLLED_AT,
        )
    return {"key": raw, "currency": program_settings().currency}


def orders_report(*, order_ids: list[str]) -> dict:
    """Per order id: how many orders and earn postings; the members' balances; the audit."""
    from django.db.models import Count

    from loyalty.models import Account, Order, Posting
    from loyalty.models.ledger import PostingKind
    from loyalty.selectors.audit import ledger_audit

    orders = dict(
        Order.objects.values("order_id").annotate(n=Count("pk")).values_list("order_id", "n")
    )
    earns = dict(
        Posting.objects.filter(kind=PostingKind.EARN)
        .values("order__order_id")
        .annotate(n=Count("pk"))
        .values_list("order__order_id", "n")
    )
    return {
        "orders": {order_id: orders.get(order_id, 0) for order_id in order_ids},
        "earn_postings": {order_id: earns.get(order_id, 0) for order_id in order_ids},
        "unknown_orders": sorted(set(orders) - set(order_ids)),
        "balances": {
            account.member.external_id: account.available + account.pending
            for account in Account.objects.select_related("member")
        },
        "audit": ledger_audit().mismatches,
    }


def endpoint_seed(*, receiver_url: str) -> dict:
    """A webhook endpoint for every event type at `receiver_url`; its secret."""
    from members.actors import Actor
    from webhooks.services import endpoint_create

    _, secret = endpoint_create(url=receiver_url, actor=Actor.system("faults"))
    return {"secret": secret}


def events_record(*, start: int, count: int) -> dict:
    """`count` `points.adjusted` events in one transaction; their ids."""
    from django.db import transaction

    from events.services import event_record

    with transaction.atomic():
        ids = [
            str(
                event_record(
                    type="points.adjusted",
                    member_id=n,
                    member_external_id=f"C-{n}",
                    payload={"points": n, "adjustment_id": n},
                ).uuid
            )
            for n in range(start, start + count)
        ]
    return {"ids": ids}


def deliveries_report() -> dict:
    """The webhook deliveries by status, and the jobs by task and status."""
    from django.db.models import Count
    from procrastinate.contrib.django.models import ProcrastinateJob

    from webhooks.models import Delivery

    def by_status(qs):
        return dict(qs.values("status").annotate(n=Count("pk")).values_list("status", "n"))

    return {
        "deliveries": by_status(Delivery.objects.all()),
        "delivered_events": sorted(
            str(event_id)
            for event_id in Delivery.objects.filter(status="delivered").values_list(
                "event_id", flat=True
            )
        ),
        "jobs": {
            f"{task} {status}": n
            for task, status, n in ProcrastinateJob.objects.values("task_name", "status")
            .annotate(n=Count("pk"))
            .values_list("task_name", "status", "n")
        },
    }


COMMANDS = {f.__name__: f for f in (orders_seed, orders_report, endpoint_seed, events_record,
                                    deliveries_report)}  # fmt: skip


def main() -> None:
    import django

    django.setup()
    command, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(COMMANDS[command](**arguments)))


if __name__ == "__main__":
    main()
