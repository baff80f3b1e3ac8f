"""The reads of the order path (`POST /api/v1/orders`), compiled to SQL once per process.

Each reads the database afresh on every call (see `config.prepared`): nothing here is cached but
the SQL text, so a change to the settings or the tiers is seen by the very next order.
"""

from __future__ import annotations

from config.prepared import PreparedQuery
from loyalty.models import MemberTier, ProgramSettings, Tier

_settings = PreparedQuery(lambda: ProgramSettings.objects.filter(pk=1))
_ladder = PreparedQuery(lambda: Tier.objects.order_by("rank"))
_member_tier = PreparedQuery(
    lambda member_id: MemberTier.objects.filter(member_id=member_id), member_id=int
)


def program_settings_read() -> ProgramSettings:
    """`loyalty.selectors.program.program_settings()`, without building the query each time."""
    settings_obj = _settings.first()
    if settings_obj is None:
        from loyalty.selectors.program import program_settings

        settings_obj = program_settings()  # creates the record with its defaults
    return settings_obj


def tier_ladder_read() -> list[Tier]:
    """All tiers, entry tier (rank 0) first: `loyalty.selectors.tiers.tier_ladder()`."""
    return _ladder()


def member_tier_read(*, member_id: int) -> MemberTier | None:
    """The member's tier state row, if any (none: the entry tier, no override)."""
    return _member_tier.first(member_id=member_id)
