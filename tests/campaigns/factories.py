"""Build campaigns through the service (validated and audited like the admin does)."""

from __future__ import annotations

import datetime as dt

from campaigns.models import Campaign
from campaigns.services.manage import campaign_save
from members.actors import Actor

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def make_campaign(code: str, kind: str, *, tiers=None, **fields) -> Campaign:
    fields.setdefault("name", code.replace("-", " ").title())
    fields.setdefault("starts_at", START)
    return campaign_save(
        campaign=Campaign(code=code, kind=kind, **fields), actor=Actor.system("tests"), tiers=tiers
    )
