"""The historical orders import: the record of every run, and the staff-defined column mappings.

Invariants:
- [db] At most one real (not dry-run) import of a given file (`checksum`) is `running` at a time:
  a partial unique index. A run whose process died is recognised and closed as `interrupted` by
  the next attempt (see `loyalty.importing.runs`), so a crash never blocks the file for good.
- A run's counters only grow while it runs, in the same transaction as the rows they count, so
  after a kill they say exactly what was committed.
- `progress` (0-100) only grows while a run runs; a finished run is at 100 unless it failed.
- A profile's name never clashes with a built-in format or profile (`orders`, `lines`, `shopify`,
  `online-retail`); its mapping names the columns its layout requires (checked in `clean`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import ActorFields

RESERVED_PROFILE_NAMES = frozenset({"auto", "orders", "lines", "shopify", "online-retail"})


class ImportRun(ActorFields):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Succeeded, some rows rejected")
        REJECTED = "rejected", _("Rejected: bad rows, nothing written")
        FAILED = "failed", _("Failed")
        INTERRUPTED = "interrupted", _("Interrupted (the process died)")

    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    heartbeat_at = models.DateTimeField(default=timezone.now, verbose_name=_("heartbeat at"))
    file_name = models.CharField(max_length=255, verbose_name=_("file name"))
    file_size = models.BigIntegerField(default=0, verbose_name=_("file size"))
    checksum = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    format = models.CharField(max_length=32, verbose_name=_("format"))
    profile = models.CharField(max_length=64, blank=True, verbose_name=_("profile"))
    dry_run = models.BooleanField(default=False, verbose_name=_("dry run"))
    skip_invalid = models.BooleanField(default=False, verbose_name=_("skip invalid"))
    via = models.CharField(max_length=16, default="command", verbose_name=_("via"))
    # An import split by customer (`loyalty.importing.parts`): this run is part `part` of
    # `parts` (0 of 1: the whole file). Each part is a run of its own, so two parts of one file
    # run at once while the same part twice is refused.
    part = models.PositiveSmallIntegerField(default=0, verbose_name=_("part"))
    parts = models.PositiveSmallIntegerField(default=1, verbose_name=_("parts"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status")
    )
    rows_read = models.BigIntegerField(default=0, verbose_name=_("rows read"))
    orders_created = models.BigIntegerField(default=0, verbose_name=_("orders created"))
    orders_present = models.BigIntegerField(default=0, verbose_name=_("orders present"))
    refunds_created = models.BigIntegerField(default=0, verbose_name=_("refunds created"))
    members_created = models.BigIntegerField(default=0, verbose_name=_("members created"))
    points_posted = models.BigIntegerField(default=0, verbose_name=_("points posted"))
    guest_orders_created = models.BigIntegerField(default=0, verbose_name=_("guest orders created"))
    rows_rejected = models.BigIntegerField(default=0, verbose_name=_("rows rejected"))
    rows_skipped = models.BigIntegerField(
        default=0,
        help_text=_(
            "Voided or pending orders, returns of earlier goods, guests' returns and guest rows "
            "of an order a customer has."
        ),
        verbose_name=_("rows skipped"),
    )
    error_report = models.CharField(max_length=500, blank=True, verbose_name=_("error report"))
    message = models.TextField(blank=True, verbose_name=_("message"))
    pid = models.IntegerField(null=True, blank=True, verbose_name=_("pid"))
    host = models.CharField(max_length=255, blank=True, verbose_name=_("host"))
    # Where a running import is (read, check, write, tiers) and how far overall, in percent:
    # written at most about once a second by `loyalty.importing.progress`, read by the admin's
    # progress page.
    phase = models.CharField(max_length=16, blank=True, verbose_name=_("phase"))
    progress = models.PositiveSmallIntegerField(default=0, verbose_name=_("progress"))

    class Meta:
        verbose_name_plural = _("import runs")
        ordering = ["-started_at", "-id"]
        verbose_name = _("import run")
        constraints = [
            models.UniqueConstraint(
                fields=["checksum", "part"],
                condition=Q(status="running", dry_run=False),
                name="importrun_one_running_per_file",
            ),
            models.CheckConstraint(
                condition=Q(part__lt=F("parts")), name="importrun_part_within_parts"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "running",
                        "succeeded",
                        "partial",
                        "rejected",
                        "failed",
                        "interrupted",
                    ]
                ),
                name="importrun_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "started_at"], name="importrun_status_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.started_at:%Y-%m-%d %H:%M}, {self.status})"

    @property
    def duration(self):
        end = self.finished_at or self.heartbeat_at
        return end - self.started_at if end else None


class ImportProfile(models.Model):
    """Which column of a merchant's export holds what, for `import_orders --profile NAME`."""

    class Layout(models.TextChoices):
        ORDERS = "orders", _("One row per order")
        LINES = "lines", _("One row per order line (aggregated by order id)")

    class RefundMarker(models.TextChoices):
        NONE = "", _("Refunds are not marked (orders layout: use the refunded total column)")
        PREFIX = "prefix", _("The order id starts with a prefix (e.g. C for cancellations)")
        NEGATIVE = "negative", _("A negative quantity is a return")

    name = models.SlugField(max_length=64, unique=True, verbose_name=_("name"))
    description = models.CharField(max_length=255, blank=True, verbose_name=_("description"))
    layout = models.CharField(
        max_length=8, choices=Layout.choices, default=Layout.ORDERS, verbose_name=_("layout")
    )
    col_order_id = models.CharField(_("order id column"), max_length=100)
    col_customer_id = models.CharField(_("customer id column"), max_length=100)
    col_placed_at = models.CharField(_("date column"), max_length=100)
    date_format = models.CharField(
        max_length=64,
        blank=True,
        help_text=_(
            "A strptime format such as %d/%m/%Y %H:%M; blank for ISO 8601 (2024-05-01 14:30:00)."
        ),
        verbose_name=_("date format"),
    )
    col_total = models.CharField(_("total column"), max_length=100, blank=True)
    col_eligible_total = models.CharField(_("eligible total column"), max_length=100, blank=True)
    col_refunded_total = models.CharField(_("refunded total column"), max_length=100, blank=True)
    col_quantity = models.CharField(_("quantity column"), max_length=100, blank=True)
    col_unit_price = models.CharField(_("unit price column"), max_length=100, blank=True)
    unit_price_decimals = models.PositiveSmallIntegerField(
        _("unit price decimals"),
        default=4,
        validators=[MinValueValidator(2), MaxValueValidator(4)],
        help_text=_(
            "Lines layout: the most decimals a unit price may have (2-4). Order totals are "
            "rounded to the cent once, on the order's sum."
        ),
    )
    col_sku = models.CharField(_("product code column"), max_length=100, blank=True)
    col_description = models.CharField(_("product name column"), max_length=100, blank=True)
    col_currency = models.CharField(_("currency column"), max_length=100, blank=True)
    fixed_currency = models.CharField(
        max_length=3,
        blank=True,
        help_text=_("Used when the file has no currency column."),
        verbose_name=_("fixed currency"),
    )
    col_email = models.CharField(_("email column"), max_length=100, blank=True)
    col_first_name = models.CharField(_("first name column"), max_length=100, blank=True)
    col_last_name = models.CharField(_("last name column"), max_length=100, blank=True)
    refund_marker = models.CharField(
        max_length=8,
        choices=RefundMarker.choices,
        blank=True,
        default=RefundMarker.NONE,
        verbose_name=_("refund marker"),
    )
    refund_prefix = models.CharField(
        max_length=16, blank=True, help_text=_("e.g. C"), verbose_name=_("refund prefix")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("import profiles")
        ordering = ["name"]
        verbose_name = _("import profile")
        constraints = [
            models.CheckConstraint(
                condition=Q(layout__in=["orders", "lines"]), name="importprofile_layout_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.name in RESERVED_PROFILE_NAMES:
            errors["name"] = f"'{self.name}' is a built-in format; choose another name."
        if not (self.col_currency or self.fixed_currency):
            errors["fixed_currency"] = "Name a currency column or give a fixed currency."
        if self.layout == self.Layout.ORDERS:
            if not self.col_total:
                errors["col_total"] = "The orders layout needs a total column."
            if self.refund_marker:
                errors["refund_marker"] = (
                    "The orders layout takes refunds from the refunded total column."
                )
        else:
            if not (self.col_total or (self.col_quantity and self.col_unit_price)):
                errors["col_unit_price"] = (
                    "The lines layout needs quantity and unit price columns, or a line total "
                    "column."
                )
            if self.refund_marker == self.RefundMarker.PREFIX and not self.refund_prefix:
                errors["refund_prefix"] = "Give the prefix that marks a refund."
            if self.col_refunded_total:
                errors["col_refunded_total"] = "The lines layout marks refunds per line."
        if errors:
            raise ValidationError(errors)
