"""Admin helpers shared by every app's admin (imports no app).

- `EstimatedCountPaginator`: the changelist of a big table must not run `COUNT(*)` over all of
  it on every page view. When the list is unfiltered and the table is big, PostgreSQL's planner
  estimate (`pg_class.reltuples`, kept fresh by autovacuum) stands in for the count; filtered
  lists (a search, a status) are counted exactly, since their indexes make that cheap.
- `service_error_message`: how a `ServiceError` reads in an admin message.
- `column(field, label)`: a list column showing a model field under a header staff read
  ("By" for `actor_label`), sortable like the field; the model's field names stay as they are.
- `denied(*permissions)`: the `PermissionDenied` a custom admin view raises, naming the
  permissions it wanted (any one of them), so the 403 page (`config.forbidden`) can say which
  role the page needs.
- `DeclaredFiltersOnly`: a changelist accepts only the URL filters its `list_filter` (and
  `date_hierarchy`) declare, plus `extra_lookups`. Django's default accepts any lookup on a local
  field (`?first_name__icontains=a`, `?email__regex=...`): unindexed scans of a big table, and a
  way around the "indexed search only" design. A refused lookup answers 400.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from config.errors import ServiceError

# The query parameters Django's own list filters write for a declared field (`status`:
# `status__exact`; a date: `__gte`/`__lt`; a relation: `__id__exact`; all: `__isnull`).
_FILTER_SUFFIXES = ("exact", "isnull", "gte", "lt", "lte", "gt", "id__exact", "id__isnull")
_HIERARCHY_SUFFIXES = ("year", "month", "day", "gte", "lt", "isnull")


class DeclaredFiltersOnly:
    """`lookup_allowed` for a `ModelAdmin`: only the declared filters (see module)."""

    extra_lookups: tuple[str, ...] = ()

    def declared_lookups(self, request) -> set[str]:
        from django.contrib.admin.filters import ListFilter

        allowed = set(self.extra_lookups)
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, ListFilter):
                allowed.add(getattr(item, "parameter_name", ""))
                continue
            name = item[0] if isinstance(item, list | tuple) else item
            allowed.update([name, *(f"{name}__{suffix}" for suffix in _FILTER_SUFFIXES)])
        if self.date_hierarchy:
            allowed.update(f"{self.date_hierarchy}__{s}" for s in _HIERARCHY_SUFFIXES)
        return allowed

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup in self.declared_lookups(request)


class EstimatedCountPaginator(Paginator):
    """A paginator whose count is the planner's estimate for an unfiltered big table."""

    # Below this many rows the exact count is cheap and an estimate would only confuse.
    exact_below = 50_000

    count_is_estimate = False

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        if estimate is not None and estimate >= self.exact_below:
            self.count_is_estimate = True
            return estimate
        return super().count

    def _estimate(self) -> int | None:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None or query.where or query.combinator or query.distinct:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table]
            )
            row = cursor.fetchone()
        # -1: never vacuumed or analysed yet; then count for real.
        return int(row[0]) if row and row[0] >= 0 else None


def service_error_message(exc: ServiceError) -> str:
    return f"{exc.message} ({exc.code})"


def denied(*permissions: str) -> PermissionDenied:
    """`raise denied("loyalty.approve_adjustment")`: refused for want of one of these."""
    exc = PermissionDenied()
    exc.permissions = permissions
    return exc


def column(field: str, label, *, boolean: bool = False, sortable: bool = True):
    """A `list_display` entry: `field`'s value (its choice label, if it has choices) under
    `label`. Dates, numbers and booleans are shown as the admin shows a field."""

    def show(obj):
        display = getattr(obj, f"get_{field}_display", None)
        return display() if display is not None else getattr(obj, field)

    show.__name__ = field
    show.short_description = label
    show.boolean = boolean
    if sortable:
        show.admin_order_field = field
    return show


class IdColumn:
    """`number` for `list_display`: the row's id as written (1604). An integer field there is
    grouped like an amount (1,604: USE_THOUSAND_SEPARATOR), which reads wrong for an id."""

    @admin.display(description=_("ID"), ordering="id")
    def number(self, obj) -> str:
        return str(obj.pk)
