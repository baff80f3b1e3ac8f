"""Query-string filters of the loyalty API (django-filter FilterSets).

`GET /members/{external_id}/transactions`:
- `kind`: one posting kind; `status`: `pending` (a credit not yet spendable) or `available`.
- `from` / `to` on `effective_at` (when the movement counts, backdated for imports), each a date
  (`2026-01-05`, a whole day in the program's time zone, both ends inclusive) or an ISO 8601
  date-time with a zone (`from` inclusive, `to` inclusive). A naive date-time is refused.
A bad value is `400 validation_error` naming the parameter.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field

from loyalty.models.ledger import PostingKind
from loyalty.selectors.ledger import STATUS_AVAILABLE, STATUS_PENDING


class DateOrDateTimeField(forms.Field):
    """A `YYYY-MM-DD` date or an ISO 8601 date-time with a zone; returns a date or a datetime."""

    default_error_messages = {
        "invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 date-time with a zone.",
        "naive": "A date-time must include a zone (Z or ±hh:mm).",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value).strip()
        try:
            if len(value) == 10 and (date := parse_date(value)) is not None:
                return date
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if moment.tzinfo is None:
            raise forms.ValidationError(self.error_messages["naive"], code="naive")
        # In UTC: PostgreSQL refuses zone offsets past ±15:59 that Python reads (a 500 before);
        # an instant before year 1 in UTC is no instant at all.
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


_MOMENT = (
    "Inclusive: a date (`YYYY-MM-DD`, a whole day in the program's time zone) or an ISO 8601 "
    "date-time with a zone."
)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PostingKind.choices)
    status = django_filters.ChoiceFilter(
        choices=[(STATUS_PENDING, "Pending"), (STATUS_AVAILABLE, "Available")],
        method="filter_status",
    )
    from_ = DateOrDateTimeFilter(method="filter_from")
    to = DateOrDateTimeFilter(method="filter_to")

    def filter_status(self, queryset, name, value):
        return queryset.filter(is_pending=value == STATUS_PENDING)

    @extend_schema_field({"type": "string", "description": "From (on `effective_at`). " + _MOMENT})
    def filter_from(self, queryset, name, value):
        if isinstance(value, dt.datetime):
            return queryset.filter(effective_at__gte=value)
        return queryset.filter(effective_at__gte=_start_of(value))

    @extend_schema_field({"type": "string", "description": "To (on `effective_at`). " + _MOMENT})
    def filter_to(self, queryset, name, value):
        if isinstance(value, dt.datetime):
            return queryset.filter(effective_at__lte=value)
        if value == dt.date.max:  # up to the last day there is: everything (no day after it)
            return queryset
        return queryset.filter(effective_at__lt=_start_of(value + dt.timedelta(days=1)))


# `from` is a Python keyword: declare the filter as `from_` and publish it under its real name.
TransactionFilter.base_filters["from"] = TransactionFilter.base_filters.pop("from_")
TransactionFilter.base_filters["from"].field_name = "from"
