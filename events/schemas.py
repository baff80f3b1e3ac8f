"""The payload of each event type, schema version 1 (`docs/events.md` describes every key).

`event_record` refuses a payload whose keys are not exactly its type's: a new key is a schema
change (a new version, documented), and no writer can slip a name, an email or a secret in.
A coupon code is a bearer credential (whoever holds it can spend it): never in an event.
Free text written by staff (an adjustment's reason, a note) is never copied: it may name a
person. Member events get `member_external_id` (the member's external id when the event was written)
from the service itself, so it is not listed here.
"""

from __future__ import annotations

from events.models import EventType

SCHEMA_VERSION = 1

PAYLOAD_KEYS: dict[str, frozenset[str]] = {
    EventType.MEMBER_ENROLLED: frozenset({"enrolled_at", "referred"}),
    EventType.MEMBER_UPDATED: frozenset({"changed"}),
    EventType.MEMBER_ERASED: frozenset(),
    EventType.POINTS_EARNED: frozenset(
        {"points", "order_id", "credits", "available_at", "expires_at"}
    ),
    EventType.POINTS_REVERSED: frozenset({"points", "reason", "order_id", "refund_id", "debt"}),
    EventType.POINTS_ADJUSTED: frozenset({"points", "adjustment_id"}),
    EventType.POINTS_EXPIRED: frozenset({"points", "lots"}),
    EventType.POINTS_EXPIRING: frozenset({"points", "expires_by", "within_days"}),
    EventType.TIER_CHANGED: frozenset({"from_tier", "to_tier", "direction", "effective_at"}),
    EventType.REWARD_REDEEMED: frozenset({"redemption_id", "reward_code", "points", "expires_at"}),
    EventType.REWARD_GIFTED: frozenset({"redemption_id", "reward_code", "cause", "expires_at"}),
    EventType.COUPON_USED: frozenset({"redemption_id", "reward_code", "order_id"}),
    EventType.COUPON_CANCELLED: frozenset({"redemption_id", "reward_code", "points_returned"}),
    EventType.REFERRAL_COMPLETED: frozenset({"referral_id", "points"}),
    EventType.ADJUSTMENT_APPROVED: frozenset({"adjustment_id", "points"}),
    EventType.IMPORT_COMPLETED: frozenset(
        {"import_id", "format", "orders", "members_created", "points", "rows_rejected"}
    ),
    # Paid membership (`memberships`): every payload also has `membership_id` and `plan` (code).
    EventType.MEMBERSHIP_STARTED: frozenset(
        {"membership_id", "plan", "status", "period_end", "amount", "currency"}
    ),
    EventType.MEMBERSHIP_RENEWED: frozenset(
        {
            "membership_id",
            "plan",
            "period_number",
            "period_start",
            "period_end",
            "amount",
            "currency",
        }
    ),
    EventType.MEMBERSHIP_PAST_DUE: frozenset(
        {"membership_id", "plan", "period_end", "grace_until"}
    ),
    EventType.MEMBERSHIP_CANCELLED: frozenset(
        {"membership_id", "plan", "at_period_end", "ends_at"}
    ),
    EventType.MEMBERSHIP_REFUNDED: frozenset(
        {"membership_id", "plan", "period_number", "amount", "currency"}
    ),
    EventType.MEMBERSHIP_EXPIRED: frozenset({"membership_id", "plan", "reason", "ended_at"}),
    # Member messages (`messaging`): every message to a member, for channels besides email.
    EventType.MESSAGE_REQUESTED: frozenset(
        {"message_id", "kind", "subject_key", "locale", "params"}
    ),
    # Segments (`segments`): `segment` is `rfm:<group>` for the RFM groups; `kind` is `rfm`.
    EventType.SEGMENT_ENTERED: frozenset({"segment", "kind"}),
    EventType.SEGMENT_EXITED: frozenset({"segment", "kind"}),
}

# Types about one member: written with the member's id, external id and next sequence number.
MEMBERLESS_TYPES = frozenset({EventType.IMPORT_COMPLETED})
