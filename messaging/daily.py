"""The daily messages step (`loyalty.hooks.daily_job_steps`, after loyalty's own steps): every
enabled kind with a planner, at its configured timing, planned set-based
(`messaging.services.messages_plan`)."""

from __future__ import annotations

import datetime as dt

from messaging.kinds import KINDS, Kind
from messaging.models import KindSetting


def kind_timing(kind: Kind) -> tuple[bool, tuple[int, ...]]:
    """(enabled, days before) for `kind`: its setting row, else its defaults."""
    setting = KindSetting.objects.filter(kind=kind.code).first()
    if setting is None:
        return kind.enabled_by_default, kind.default_days
    return setting.enabled, setting.day_list() or kind.default_days


def messages_daily(*, as_of: dt.date, cutoff=None, actor=None) -> int:
    from messaging.services import messages_plan

    requested = 0
    for kind in list(KINDS.values()):
        if kind.planner is None:
            continue
        enabled, days = kind_timing(kind)
        if not enabled:
            continue
        for rows in kind.planner(as_of=as_of, days=days):
            requested += messages_plan(kind=kind, rows=rows)
    return requested
