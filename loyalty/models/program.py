"""The program's settings: one record (pk=1), edited by Marketing in the admin, audited.

Every number in `../docs/rules.md` that staff may tune lives here. Read it through
`loyalty.selectors.program_settings()`, which caches it per request/process tick.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models


class ProgramSettings(models.Model):
    class Qualification(models.TextChoices):
        ROLLING_365 = "rolling_365", "Rolling 365 days"
        CALENDAR_YEAR = "calendar_year", "Calendar year"

    currency = models.CharField(max_length=3, default="GBP", help_text="ISO 4217 code.")
    earn_rate = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Points per 1.00 of eligible spend.",
    )
    point_value = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="What one point is worth when spent, in the program currency.",
    )
    pending_days = models.PositiveIntegerField(
        default=14, help_text="Days after the order before its points become available."
    )
    points_lifetime_days = models.PositiveIntegerField(
        default=365, help_text="Days points stay spendable after they become available; 0 = never."
    )
    allow_negative_balance = models.BooleanField(
        default=True,
        help_text="When a refund reverses points already spent: allow a debt (on) or cap at the "
        "balance and record the shortfall (off).",
    )
    qualification = models.CharField(
        max_length=16, choices=Qualification.choices, default=Qualification.ROLLING_365
    )
    tier_hold_days = models.PositiveIntegerField(
        default=365, help_text="A tier is kept at least this long after it was reached."
    )
    service_adjustment_limit = models.PositiveIntegerField(
        default=1000, help_text="Most points a customer-service agent may adjust at once."
    )
    service_daily_limit = models.PositiveIntegerField(
        default=1000, help_text="Most points (absolute sum) an agent may adjust per day."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "program settings"
        verbose_name_plural = "program settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="program_settings_singleton"),
            models.CheckConstraint(condition=models.Q(earn_rate__gte=0), name="earn_rate_gte_0"),
            models.CheckConstraint(
                condition=models.Q(point_value__gte=0), name="point_value_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return "Program settings"


class ExchangeRate(models.Model):
    """Orders in `currency` are converted at `rate` program-currency units per unit."""

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=14, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(rate__gt=0), name="rate_gt_0")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"
