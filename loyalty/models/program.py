"""The program's settings: one record (pk=1), edited by Marketing in the admin, audited.

Every number in `../docs/rules.md` that staff may tune lives here. Read it through
`loyalty.selectors.program_settings()`, which caches it per request/process tick.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import Language


class TierMetric(models.TextChoices):
    """What a tier ladder qualifies on (`loyalty.selectors.tier_metric`, `docs/tiers.md`)."""

    SPEND = "qualifying_spend", _("Qualifying spend")
    ORDERS = "orders", _("Number of orders")
    GROWTH = "growth_value", _("Growth value")


class GrowthSource(models.TextChoices):
    """The earning kinds whose points may count as growth value (Marketing picks them)."""

    ORDERS = "orders", _("Orders (points earned on orders, less refunds)")
    SIGNUP = "signup", _("Sign-up bonus")
    BIRTHDAY = "birthday", _("Birthday bonus")
    ANNIVERSARY = "anniversary", _("Membership anniversary bonus")
    REVIEW = "review", _("Product reviews")
    SOCIAL_FOLLOW = "social_follow", _("Social follows")
    NEWSLETTER_SIGNUP = "newsletter_signup", _("Newsletter sign-ups")
    PROFILE_COMPLETED = "profile_completed", _("Profile completed")
    FEEDBACK = "feedback", _("Feedback submitted")
    REFERRAL = "referral", _("Referrals")
    OTHER_ACTIONS = "other_actions", _("Other actions (custom, e.g. daily sign-in)")


class ProgramSettings(models.Model):
    TierMetric = TierMetric
    GrowthSource = GrowthSource

    class Qualification(models.TextChoices):
        ROLLING_365 = "rolling_365", _("Rolling 365 days")
        CALENDAR_YEAR = "calendar_year", _("Calendar year")

    currency = models.CharField(
        max_length=3, default="GBP", help_text=_("ISO 4217 code."), verbose_name=_("currency")
    )
    earn_rate = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Points per 1.00 of eligible spend."),
        verbose_name=_("earn rate"),
    )
    point_value = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What one point is worth when spent, in the program currency."),
        verbose_name=_("point value"),
    )
    pending_days = models.PositiveIntegerField(
        default=14,
        help_text=_("Days after the order before its points become available."),
        verbose_name=_("pending days"),
    )
    points_lifetime_days = models.PositiveIntegerField(
        default=365,
        help_text=_("Days points stay spendable after they become available; 0 = never."),
        verbose_name=_("points lifetime days"),
    )
    allow_negative_balance = models.BooleanField(
        default=True,
        help_text=_(
            "When a refund reverses points already spent: allow a debt (on) or cap at the "
            "balance and record the shortfall (off)."
        ),
        verbose_name=_("allow negative balance"),
    )
    qualification = models.CharField(
        max_length=16,
        choices=Qualification.choices,
        default=Qualification.ROLLING_365,
        verbose_name=_("qualification"),
    )
    tier_metric = models.CharField(
        max_length=16,
        choices=TierMetric.choices,
        default=TierMetric.SPEND,
        db_default=TierMetric.SPEND,
        help_text=_(
            "What the tier thresholds count: qualifying spend (money), orders or growth value "
            "(points from the sources below), in the qualification window."
        ),
        verbose_name=_("tier metric"),
    )
    growth_sources = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Growth value: the earning kinds whose points count."),
        verbose_name=_("growth value sources"),
    )
    tier_hold_days = models.PositiveIntegerField(
        default=365,
        help_text=_("A tier is kept at least this long after it was reached."),
        verbose_name=_("tier hold days"),
    )
    service_adjustment_limit = models.PositiveIntegerField(
        default=1000,
        help_text=_("Most points a customer-service agent may adjust at once."),
        verbose_name=_("service adjustment limit"),
    )
    service_daily_limit = models.PositiveIntegerField(
        default=1000,
        help_text=_("Most points (absolute sum) an agent may adjust per day."),
        verbose_name=_("service daily limit"),
    )
    locale = models.CharField(
        _("language"),
        max_length=8,
        choices=Language.choices,
        default=Language.ENGLISH,
        db_default=Language.ENGLISH,
        help_text=_("The language of members' messages when a member has not chosen one."),
    )
    launched_at = models.DateField(
        null=True,
        blank=True,
        help_text=_(
            "The day the loyalty program started. The dashboard compares the same customers "
            "before and after it."
        ),
        verbose_name=_("program launched on"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="program_settings_singleton"),
            models.CheckConstraint(condition=models.Q(earn_rate__gte=0), name="earn_rate_gte_0"),
            models.CheckConstraint(
                condition=models.Q(point_value__gte=0), name="point_value_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Program settings"))


class ExchangeRate(models.Model):
    """Orders in `currency` are converted at `rate` program-currency units per unit."""

    currency = models.CharField(max_length=3, unique=True, verbose_name=_("currency"))
    rate = models.DecimalField(max_digits=14, decimal_places=6, verbose_name=_("rate"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [models.CheckConstraint(condition=models.Q(rate__gt=0), name="rate_gt_0")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"
