"""Helpers for the event tests: what a piece of work wrote to the outbox, nothing else."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from django.db.models import Max

from events.models import Event
from tests.loyalty.conftest import record_order, record_refund

__all__ = ["record_order", "record_refund"]  # fixtures shared with the loyalty tests


def iso(moment: dt.datetime | dt.date) -> str:
    """A date or time as the payloads store it (Django's JSON encoder: milliseconds, `Z`)."""
    from django.core.serializers.json import DjangoJSONEncoder

    return DjangoJSONEncoder().default(moment)


class Written(list):
    """The events written inside the `with` block: `(type, member_id, sequence, payload)`."""

    def of(self, type: str) -> list[tuple]:
        return [event for event in self if event[0] == type]


@pytest.fixture
def written(db):
    @contextmanager
    def _capture():
        before = Event.objects.aggregate(m=Max("position"))["m"] or 0
        got = Written()
        yield got
        got.extend(
            Event.objects.filter(position__gt=before)
            .order_by("position")
            .values_list("type", "member_id", "sequence", "payload")
        )

    return _capture
