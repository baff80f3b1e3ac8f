"""Membership tiers, their perks, each member's tier state and the history of every change.

Model:
- `Tier`: an entry threshold on the ladder's metric in the qualification window (qualifying
  spend in the program currency, or a whole number of orders or growth value:
  `ProgramSettings.tier_metric`, `loyalty.selectors.tier_metric`), an earn multiplier and a set
  of `Perk`s. Rank 0 is the entry tier every member starts in; its threshold is 0.
- `MemberTier`: one row per member whose tier was ever decided (created lazily, on the first
  upgrade or override): the tier earned by spend (`tier`), when it was reached (`since`), when the
  member last met its threshold (`qualified_at`, the hold period counts from it) and an optional
  staff override. A member without a row is in the entry tier, since enrolment.
- `TierChange`: the append-only history (from, to, when, why, who).

Invariants (database-enforced where marked [db]):
- [db] rank ≥ 0 and unique; code unique; threshold ≥ 0; multiplier ≥ 1; rank 0 ⇒ threshold 0.
- Thresholds strictly increase with rank (checked by the services and the config import: a rule
  across rows).
- [db] an override has a tier and an end date, or neither.
- [db] tier history rows are never updated or deleted (a PostgreSQL trigger refuses it).
- `MemberTier` rows change only under the member's loyalty `Account` lock (the order path, the
  daily evaluation and staff overrides all take it first), so an upgrade and a downgrade of the
  same member never interleave.
- Tiers that a member holds or held are never deleted ([db] PROTECT on the tier rows; a trigger
  for the history, whose tier columns carry no foreign-key constraint).
"""

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import BulkActorFields, Member, actor_partial_indexes


class PerkKind(models.TextChoices):
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    PRIORITY_SUPPORT = "priority_support", _("Priority support")
    BIRTHDAY_GIFT = "birthday_gift", _("Birthday gift")
    EARLY_ACCESS = "early_access", _("Early access")
    DISCOUNT_PERCENT = "discount_percent", _("Discount (percent)")
    POINTS_MULTIPLIER = "points_multiplier", _("Points multiplier")
    CUSTOM = "custom", _("Custom")


class Perk(models.Model):
    """A named benefit the storefront applies (it reads a member's perks from the API)."""

    Kind = PerkKind

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    kind = models.CharField(max_length=20, choices=PerkKind.choices, verbose_name=_("kind"))
    value = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Optional: the percentage off, a multiplier, a gift's points… as the kind needs."
        ),
        verbose_name=_("value"),
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("perk")
        verbose_name_plural = _("perks")
        ordering = ["name", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in PerkKind]), name="perk_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=0), name="perk_value_gte_0"
            ),
            models.CheckConstraint(
                condition=~Q(kind=PerkKind.DISCOUNT_PERCENT) | (Q(value__gt=0) & Q(value__lte=100)),
                name="perk_discount_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    code = models.SlugField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    rank = models.PositiveSmallIntegerField(
        unique=True,
        help_text=_("0 is the entry tier every member starts in; higher is better."),
        verbose_name=_("rank"),
    )
    threshold = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text=_(
            "What reaches this tier in the qualification window: qualifying spend, or a whole "
            "number of orders or growth value (the program's tier metric)."
        ),
        verbose_name=_("threshold"),
    )
    multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=1,
        help_text=_("Earn multiplier: the tier bonus is floor(base points × (multiplier − 1))."),
        verbose_name=_("multiplier"),
    )
    perks = models.ManyToManyField(Perk, blank=True, related_name="tiers", verbose_name=_("perks"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        triggers = [
            # `TierChange.from_tier` / `to_tier` have no foreign-key constraint (see there).
            pgtrigger.Trigger(
                name="tier_protect_history",
                operation=pgtrigger.Delete,
                when=pgtrigger.Before,
                func=(
                    "IF EXISTS (SELECT 1 FROM loyalty_tierchange "
                    "WHERE from_tier_id = OLD.id OR to_tier_id = OLD.id) THEN "
                    "RAISE EXCEPTION 'a tier named in the tier history cannot be deleted' "
                    "USING ERRCODE = 'foreign_key_violation'; "
                    "END IF; RETURN OLD;"
                ),
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rank__gte=0), name="tier_rank_gte_0"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_threshold_gte_0"),
            models.CheckConstraint(condition=Q(multiplier__gte=1), name="tier_multiplier_gte_1"),
            models.CheckConstraint(
                condition=~Q(rank=0) | Q(threshold=0), name="tier_entry_threshold_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MemberTier(models.Model):
    """A member's tier state. No row: the entry tier since enrolment, no override."""

    member = models.OneToOneField(
        Member,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="tier_state",
        verbose_name=_("member"),
    )
    # The tier earned by spend; an active override wins over it.
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier")
    )
    since = models.DateTimeField(
        help_text=_("When the member reached the earned tier."), verbose_name=_("since")
    )
    qualified_at = models.DateTimeField(
        help_text=_(
            "When the member last met the earned tier's threshold; the hold counts from it."
        ),
        verbose_name=_("qualified at"),
    )
    # No index of its own: lapses are found through `membertier_override_idx`.
    override_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("override tier"),
    )
    override_until = models.DateField(
        null=True,
        blank=True,
        help_text=_("Last day of the override (inclusive, program time zone)."),
        verbose_name=_("override until"),
    )
    override_reason = models.CharField(
        max_length=500, blank=True, verbose_name=_("override reason")
    )
    override_by = models.CharField(max_length=150, blank=True, verbose_name=_("override by"))
    override_at = models.DateTimeField(null=True, blank=True, verbose_name=_("override at"))

    class Meta:
        verbose_name_plural = _("member tiers")
        verbose_name = _("member tier")
        permissions = [("override_tier", "Can override a member's tier")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(override_tier__isnull=True) & Q(override_until__isnull=True))
                | (Q(override_tier__isnull=False) & Q(override_until__isnull=False)),
                name="membertier_override_complete",
            ),
        ]
        indexes = [
            # The daily evaluation: rows whose hold may have ended.
            models.Index(fields=["qualified_at"], name="membertier_qualified_idx"),
            models.Index(
                fields=["override_until"],
                name="membertier_override_idx",
                condition=Q(override_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: tier {self.tier_id}"


class TierChangeKind(models.TextChoices):
    UPGRADE = "upgrade", _("Upgrade")
    DOWNGRADE = "downgrade", _("Downgrade")
    OVERRIDE = "override", _("Override by staff")
    OVERRIDE_LAPSED = "override_lapsed", _("Override lapsed")
    IMPORT = "import", _("Import")


class TierChange(BulkActorFields):
    """One change of a member's tier. Append-only.

    Upgrades, downgrades and imports record the earned tier (from → to); overrides and lapses
    record the tier the member effectively holds (from → to).
    """

    Kind = TierChangeKind

    # Indexed by `tierchange_member_at_idx`; the history is written in bulk by the daily
    # evaluation, so it carries no index it does not need.
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="tier_changes",
        db_index=False,
        verbose_name=_("member"),
    )
    # The tiers carry no foreign-key constraint: PostgreSQL checks one row at a time, at commit,
    # which made half of the daily evaluation's time (two checks per history row, ~12 µs each
    # here). A tier named in the history cannot be deleted all the same: Django's PROTECT, and
    # the `tier_protect_history` trigger on the tier table in the database.
    from_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("from tier"),
    )
    to_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("to tier"),
    )
    kind = models.CharField(max_length=16, choices=TierChangeKind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(help_text=_("When the change took effect."), verbose_name=_("at"))
    # The window's qualifying spend the decision was made on (upgrades, downgrades, imports).
    qualifying_spend = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, verbose_name=_("qualifying spend")
    )
    # Ladders that qualify on orders or growth value: the count the decision was made on.
    qualifying_value = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("Orders or growth value the decision was made on (ladders counting them)."),
        verbose_name=_("qualifying value"),
    )
    note = models.CharField(max_length=500, blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-at", "-id"]
        triggers = [
            pgtrigger.Protect(
                name="tierchange_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in TierChangeKind]),
                name="tierchange_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-at", "-id"], name="tierchange_member_at_idx"),
            models.Index(fields=["kind", "at"], name="tierchange_kind_at_idx"),
            *actor_partial_indexes(
                user_index="tierchange_actor_user_idx", api_key_index="tierchange_actor_key_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.kind} {self.from_tier_id} → {self.to_tier_id}"


class TierEvaluationRun(models.Model):
    """One completed daily evaluation of all members (`tier_evaluate_all`). Append-only.

    The next run starts from the last one (the incremental evaluation, `docs/tiers.md`): it
    evaluates only the members whose status can have changed since that run's moment (`as_of`),
    given the orders and tier changes written after its watermarks; a run with another
    configuration (`config`), for an earlier moment, or with `full` evaluates everyone.
    """

    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(verbose_name=_("finished at"))
    as_of = models.DateTimeField(
        help_text=_("The moment the run evaluated the members as of."), verbose_name=_("as of")
    )
    full = models.BooleanField(
        help_text=_("Whether every member was evaluated (else only those due)."),
        verbose_name=_("full"),
    )
    # The highest order and tier change ids when the run started: anything written later is
    # the next run's business.
    order_watermark = models.BigIntegerField(verbose_name=_("order watermark"))
    change_watermark = models.BigIntegerField(verbose_name=_("tier change watermark"))
    config = models.CharField(
        max_length=2000,
        help_text=_("The settings and thresholds the run used."),
        verbose_name=_("configuration"),
    )
    members = models.IntegerField(
        help_text=_("Members with something to do."), verbose_name=_("members")
    )
    changes = models.IntegerField(verbose_name=_("changes"))
    batches = models.IntegerField(verbose_name=_("batches"))

    class Meta:
        verbose_name = _("tier evaluation run")
        verbose_name_plural = _("tier evaluation runs")

    def __str__(self) -> str:
        return f"{self.as_of:%Y-%m-%d %H:%M} ({'full' if self.full else 'incremental'})"
