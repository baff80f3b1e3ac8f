"""Who a campaign holds out: a pure function of (campaign, member), and its record.

A campaign with `holdout_percent` = p holds out the members whose bucket is below p × 100:

    bucket(campaign, member) = int.from_bytes(SHA-256("<campaign id>:<member id>")[:8], "big")
                               mod 10,000

Invariants:
- Deterministic: the same member is in or out of the same campaign on every order, in every
  process, after a restart, on any machine; anyone can recompute it (auditable). A member cannot
  change it by retrying an order or an action, and nothing random is stored.
- Independent across campaigns: the campaign's id is hashed in, so a member held out of one
  campaign is not systematically held out of the next.
- Monotone in the share: raising p from 10 to 20 keeps every member held out at 10 held out.
- The share is p% of any large set of members within sampling error (SHA-256's bits are uniform;
  2^64 mod 10,000 leaves a bias below 10^-15).
- Costs one SHA-256 of a short string and no query, so treated members' orders pay nothing more.

Held-out members get no bonus; the first time one would have got it,
`campaigns.services.awards.holdout_record` writes the `CampaignHoldout` row (one per campaign and
member, under the member's account lock that the order path or `award_grant` already holds: no
other lock, no shared row).
"""

from __future__ import annotations

import hashlib

from campaigns.models import Campaign

BUCKETS = 10_000
HOLDOUT_MAX_PERCENT = 50
HELD_OUT = "held_out"


def holdout_bucket(*, campaign_id: int, member_id: int) -> int:
    """The member's bucket in the campaign, 0 … 9,999."""
    digest = hashlib.sha256(f"{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def held_out(campaign: Campaign, *, member_id: int) -> bool:
    """Whether the campaign holds this member out (no query)."""
    percent = campaign.holdout_percent
    if not percent:
        return False
    return holdout_bucket(campaign_id=campaign.pk, member_id=member_id) < percent * 100
