"""The points ledger: append-only postings, the lots credits create, and the cached balance.

Model (single entry, with lots):
- A `Posting` is one signed movement of a member's points: credits (earn, bonuses, positive
  adjustments, a cancelled redemption's refund) are > 0, debits (redeem, refund reversal, expiry,
  negative adjustments) are < 0. Postings are never updated or deleted (a PostgreSQL trigger refuses
  it; the admin offers no way); a correction is a new posting that `reverses` the old one, once.
- Every credit opens a `Lot`: the points it granted, what is left (`remaining`), when they become
  available (`available_at`, pending until then) and when what is left expires (`expires_at`).
- Every debit is spread over lots by `LotAllocation` rows, soonest-expiring available lot first;
  what no lot covers (a refund of points already spent) becomes a `Debt`, which later credits pay
  off first as they become available.
- `Account` caches the balance per member: `pending` = Σ remaining of unmatured lots, `available`
  = Σ remaining of matured lots − Σ remaining debt. It is changed only in the same transaction as
  the postings, under the account's row lock. `manage.py audit_ledger` recomputes all of it.

Invariants (database-enforced where marked [db]):
- [db] points ≠ 0; debit kinds < 0; credit kinds > 0 and carry `available_at`.
- [db] `idempotency_key` unique: the same posting is never made twice.
- [db] a posting is reversed at most once (`reverses` is unique).
- [db] 0 ≤ lot.remaining ≤ lot.points; 0 ≤ debt.remaining ≤ debt.points; allocations > 0.
- Σ allocations of a debit + its debt.remaining = −debit.points (settling moves debt to lots).
- Σ allocations from a lot = lot.points − lot.remaining.
- account.available + account.pending = Σ postings.points.
"""

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import BulkActorFields, Member, actor_partial_indexes


class PostingKind(models.TextChoices):
    EARN = "earn", _("Earned on an order")
    TIER_BONUS = "tier_bonus", _("Tier bonus")
    CAMPAIGN_BONUS = "campaign_bonus", _("Campaign bonus")
    REDEEM = "redeem", _("Redeemed")
    REFUND_REVERSAL = "refund_reversal", _("Reversed by a refund")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjustment")
    CANCEL_REDEMPTION = "cancel_redemption", _("Redemption cancelled")
    REVERSAL = "reversal", _("Reversal of a posting")


CREDIT_KINDS = (
    PostingKind.EARN,
    PostingKind.TIER_BONUS,
    PostingKind.CAMPAIGN_BONUS,
    PostingKind.CANCEL_REDEMPTION,
)
DEBIT_KINDS = (PostingKind.REDEEM, PostingKind.REFUND_REVERSAL, PostingKind.EXPIRE)


class Posting(BulkActorFields):
    Kind = PostingKind

    # Indexes: only those a query uses (every one costs each posting written, the bulk import's
    # millions included). `member` is served by `posting_member_time_idx` (member first), the
    # idempotency key by its unique constraint (no `varchar_pattern_ops` copy: it is only ever
    # matched exactly), the staff user and the API key by partial indexes of the postings that
    # have one (`BulkActorFields`).
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,
        verbose_name=_("member"),
    )
    kind = models.CharField(max_length=20, choices=PostingKind.choices, verbose_name=_("kind"))
    points = models.IntegerField(verbose_name=_("points"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    effective_at = models.DateTimeField(default=timezone.now, verbose_name=_("effective at"))
    available_at = models.DateTimeField(null=True, blank=True, verbose_name=_("available at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    order = models.ForeignKey(
        "loyalty.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postings",
        verbose_name=_("order"),
    )
    refund = models.ForeignKey(
        "loyalty.Refund",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,
        verbose_name=_("refund"),  # posting_refund_idx: partial, few postings have a refund
    )
    # Where the posting came from, for sources that live in apps above this one.
    source_type = models.CharField(max_length=20, blank=True, verbose_name=_("source type"))
    source_id = models.CharField(max_length=64, blank=True, verbose_name=_("source id"))
    campaign_code = models.CharField(max_length=64, blank=True, verbose_name=_("campaign code"))
    reward_code = models.CharField(max_length=64, blank=True, verbose_name=_("reward code"))
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    idempotency_key = models.CharField(max_length=255, verbose_name=_("idempotency key"))
    reason = models.CharField(max_length=500, blank=True, verbose_name=_("reason"))
    description = models.CharField(max_length=255, blank=True, verbose_name=_("description"))

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["-effective_at", "-id"]
        permissions = [
            ("adjust_points", "Can adjust points within the customer-service limits"),
            ("adjust_points_unlimited", "Can adjust points without limits"),
            ("approve_adjustment", "Can approve or reject an adjustment request"),
            ("reverse_posting", "Can reverse a posting"),
            ("export_posting", "Can export the ledger"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="posting_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="posting_points_nonzero"),
            models.CheckConstraint(
                condition=~Q(kind__in=DEBIT_KINDS) | Q(points__lt=0), name="posting_debit_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=CREDIT_KINDS) | Q(points__gt=0),
                name="posting_credit_positive",
            ),
            models.CheckConstraint(
                condition=Q(points__lt=0) | Q(available_at__isnull=False),
                name="posting_credit_has_available_at",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in PostingKind]), name="posting_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="posting_idempotency_key_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-effective_at", "-id"], name="posting_member_time_idx"),
            models.Index(fields=["kind", "created_at"], name="posting_kind_created_idx"),
            models.Index(fields=["created_at"], name="posting_created_idx"),
            models.Index(
                fields=["campaign_code"],
                name="posting_campaign_idx",
                condition=~Q(campaign_code=""),
            ),
            models.Index(
                fields=["refund"], name="posting_refund_idx", condition=Q(refund__isnull=False)
            ),
            *actor_partial_indexes(
                user_index="posting_actor_user_idx", api_key_index="posting_api_key_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.points:+d}"


class Lot(models.Model):
    """What is left of one credit. Mutable state derived from postings (audit_ledger checks it)."""

    posting = models.OneToOneField(
        Posting,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="lot",
        verbose_name=_("posting"),
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="lots", verbose_name=_("member")
    )
    points = models.IntegerField(verbose_name=_("points"))
    remaining = models.IntegerField(verbose_name=_("remaining"))
    available_at = models.DateTimeField(verbose_name=_("available at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    matured = models.BooleanField(default=False, verbose_name=_("matured"))

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="lot_points_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="lot_remaining_in_range",
            ),
        ]
        indexes = [
            # Spending: a member's open, matured lots, soonest expiry first.
            models.Index(
                fields=["member", "expires_at", "available_at"],
                name="lot_open_by_member_idx",
                condition=Q(remaining__gt=0),
            ),
            # The maturity job: lots still pending.
            models.Index(
                fields=["available_at"], name="lot_pending_idx", condition=Q(matured=False)
            ),
            # The expiry job: open lots that can expire.
            models.Index(
                fields=["expires_at"],
                name="lot_expiring_idx",
                condition=Q(remaining__gt=0) & Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class LotAllocation(models.Model):
    """`points` of `lot` consumed by the debit `posting`. Append-only."""

    posting = models.ForeignKey(
        Posting, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("posting")
    )
    lot = models.ForeignKey(
        Lot, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("lot")
    )
    points = models.IntegerField(verbose_name=_("points"))

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")
        triggers = [
            pgtrigger.Protect(
                name="allocation_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="allocation_points_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id} to posting {self.posting_id}"


class Debt(models.Model):
    """The part of a debit no lot could cover (a refund of spent points); credits pay it off."""

    posting = models.OneToOneField(
        Posting,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="debt",
        verbose_name=_("posting"),
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="debts", verbose_name=_("member")
    )
    points = models.IntegerField(verbose_name=_("points"))
    remaining = models.IntegerField(verbose_name=_("remaining"))

    class Meta:
        verbose_name = _("debt")
        verbose_name_plural = _("debts")
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="debt_points_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="debt_remaining_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["member"], name="debt_open_idx", condition=Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"debt {self.pk}: {self.remaining}/{self.points}"


class Account(models.Model):
    """A member's cached balance; the row whose lock serialises every change to their points."""

    member = models.OneToOneField(
        Member,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="account",
        verbose_name=_("member"),
    )
    available = models.IntegerField(default=0, verbose_name=_("available"))
    pending = models.IntegerField(default=0, verbose_name=_("pending"))
    lifetime_earned = models.IntegerField(default=0, verbose_name=_("lifetime earned"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_gte_0"),
            models.CheckConstraint(
                condition=Q(lifetime_earned__gte=0), name="account_lifetime_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.available} available, {self.pending} pending"
