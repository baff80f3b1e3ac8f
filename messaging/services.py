"""Writes of member messages: planning (who gets what, exactly once), sending, opting out.

Invariants:
- A message is requested by inserting its log row (`INSERT ... ON CONFLICT DO NOTHING` on the
  natural key member, kind, subject key) and, in the same transaction, its `message.requested`
  event and the send job: all three commit together or not at all. A second daily run, a retry
  or a concurrent worker inserts nothing and so requests nothing.
- Who may get a message is decided in SQL per batch of members (`_eligible`): active members
  with an email that is not suppressed, not opted out of the kind; promotional kinds also need
  `marketing_consent` and no promotional message within `MESSAGING_PROMO_CAP_DAYS`; a kind whose
  setting names an audience (a segment) goes only to that segment's members. Erased and
  suspended members get nothing. The send job checks the same again under the row's lock.
- On PostgreSQL a batch is one statement (`_request_batch_pg`): the log rows are inserted from
  the eligibility query itself (`_eligible` compiled to SQL, the only place the rules live) with
  `ON CONFLICT DO NOTHING RETURNING`, and the returned rows' events are written by the same
  statement, the members' event counters drawn in member-id order (as `events.sequences_draw`).
  SQLite takes the row-by-row path; both log, announce and queue exactly the same messages.
- The send job sends a queued row at most once per success: the row is locked (SKIP LOCKED) and
  marked sent in the transaction that sent it; a crash between the provider's answer and the
  commit can send it again (at-least-once at the transport, never a second log row).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

import jobs
from events.models import Event, EventType, MemberEventCounter
from events.services import EXTERNAL_ID_KEY, NewEvent, event_new, events_record
from loyalty.selectors.program import program_settings_if_saved
from members.actors import Actor
from members.models import Member
from members.services import audit_record
from messaging.kinds import Kind, kind_get
from messaging.models import KindSetting, MessageLog, OptOut, Suppression
from segments.models import Segment
from segments.selectors.segments import segment_member_ids

BATCH = 2000
SEND_BATCH = 200


def _audience(kind: Kind) -> Segment | None:
    """The segment the kind's setting restricts it to, or None (one query)."""
    setting = (
        KindSetting.objects.filter(kind=kind.code, audience__isnull=False)
        .select_related("audience")
        .first()
    )
    return setting.audience if setting is not None else None


def _eligible(*, kind: Kind, member_ids: Iterable[int], now: dt.datetime) -> QuerySet[Member]:
    """The members among `member_ids` who may get a message of `kind` now (module docstring)."""
    members = (
        Member.objects.filter(pk__in=list(member_ids), status=Member.Status.ACTIVE)
        .exclude(email__isnull=True)
        .exclude(email="")
        .exclude(Exists(OptOut.objects.filter(member=OuterRef("pk"), kind=kind.code)))
        .exclude(Exists(Suppression.objects.filter(address=OuterRef("email"))))
    )
    audience = _audience(kind)
    if audience is not None:  # compiled into the same statement (a subquery)
        members = members.filter(pk__in=segment_member_ids(audience, now=now))
    if kind.promotional:
        since = now - dt.timedelta(days=settings.MESSAGING_PROMO_CAP_DAYS)
        recent = MessageLog.objects.filter(
            member=OuterRef("pk"), promotional=True, requested_at__gte=since
        )
        members = members.filter(marketing_consent=True).exclude(Exists(recent))
    return members


def _request_batch(*, kind: Kind, rows: list[dict], now: dt.datetime) -> int:
    """Log, announce and queue the batch's messages that are due; returns how many are new."""
    program = program_settings_if_saved()
    default_locale = program.locale if program is not None else "en"
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = _request_batch_pg(kind=kind, rows=rows, now=now, default_locale=default_locale)
        else:
            ids = _request_batch_rows(kind=kind, rows=rows, now=now, default_locale=default_locale)
        from messaging.tasks import message_send_batch  # tasks import this module

        for start in range(0, len(ids), SEND_BATCH):
            jobs.defer(message_send_batch, message_ids=ids[start : start + SEND_BATCH])
    return len(ids)


def _request_batch_rows(
    *, kind: Kind, rows: list[dict], now: dt.datetime, default_locale: str
) -> list[int]:
    """The row-by-row path (SQLite): the new log rows' ids, their events written."""
    members = {
        m["pk"]: m
        for m in _eligible(kind=kind, member_ids={r["member_id"] for r in rows}, now=now).values(
            "pk", "external_id", "locale"
        )
    }
    batch, capped = uuid.uuid4(), set()
    logs = []
    for row in rows:
        member = members.get(row["member_id"])
        if member is None or (kind.promotional and row["member_id"] in capped):
            continue
        capped.add(row["member_id"])
        logs.append(
            MessageLog(
                member_id=row["member_id"],
                kind=kind.code,
                subject_key=str(row["subject_key"]),
                locale=member["locale"] or default_locale,
                promotional=kind.promotional,
                params=row.get("params") or {},
                requested_at=now,
                batch=batch,
            )
        )
    MessageLog.objects.bulk_create(logs, ignore_conflicts=True)
    # Only the rows this batch inserted: another run's (or an earlier day's) were skipped.
    mine = list(
        MessageLog.objects.filter(batch=batch)
        .order_by("pk")
        .values_list("pk", "member_id", "subject_key", "locale", "params")
    )
    events_record(
        events=[
            NewEvent(
                type=EventType.MESSAGE_REQUESTED,
                member_id=member_id,
                member_external_id=members[member_id]["external_id"],
                payload={
                    "message_id": pk,
                    "kind": kind.code,
                    "subject_key": subject_key,
                    "locale": locale,
                    "params": params,
                },
                occurred_at=now,
            )
            for pk, member_id, subject_key, locale, params in mine
        ]
    )
    return [m[0] for m in mine]


def _request_batch_pg(
    *, kind: Kind, rows: list[dict], now: dt.datetime, default_locale: str
) -> list[int]:
    """PostgreSQL: one statement logs the batch's due messages and writes their events; returns
    the new log rows' ids. The rows are sent as arrays (in order); the eligibility is `_eligible`
    compiled, joined to them; a promotional kind keeps a member's first row only (the cap)."""
    if kind.promotional:
        seen: set[int] = set()
        rows = [r for r in rows if not (r["member_id"] in seen or seen.add(r["member_id"]))]
    if not rows:
        return []
    eligible = _eligible(kind=kind, member_ids={r["member_id"] for r in rows}, now=now)
    elig_sql, elig_params = (
        eligible.order_by().values("pk", "external_id", "locale").query.sql_with_params()
    )
    # The event's payload is built in SQL: its keys are checked once against the schema here.
    event = event_new(
        type=EventType.MESSAGE_REQUESTED,
        payload=dict.fromkeys(("message_id", "kind", "subject_key", "locale", "params")),
        member_external_id="-",
        occurred_at=now,
    )
    sql = _BATCH_SQL.format(
        eligible=elig_sql,
        log=MessageLog._meta.db_table,
        counter=MemberEventCounter._meta.db_table,
        event=Event._meta.db_table,
        external_id=EXTERNAL_ID_KEY,
    )
    params = [
        *elig_params,
        [r["member_id"] for r in rows],
        [str(r["subject_key"]) for r in rows],
        [json.dumps(r.get("params") or {}, cls=DjangoJSONEncoder) for r in rows],
        kind.code,
        default_locale,
        kind.promotional,
        now,
        uuid.uuid4(),
        event.type,
        now,
        event.schema_version,
        kind.code,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# `elig` names the columns of `_eligible(...).values("pk", "external_id", "locale")`. The
# counters are upserted in member-id order (no deadlock between two planners); each member's
# events are numbered in log-id order after its counter's previous last.
_BATCH_SQL = """
WITH elig (id, external_id, locale) AS ({eligible}),
src AS (
  SELECT * FROM unnest(%s::bigint[], %s::text[], %s::jsonb[]) WITH ORDINALITY
    AS r(member_id, subject_key, params, ord)
),
ins AS (
  INSERT INTO {log} (member_id, kind, subject_key, locale, promotional, params,
    template_version, subject, requested_at, sent_at, status, provider_id, error, batch)
  SELECT src.member_id, %s, src.subject_key, COALESCE(NULLIF(elig.locale, ''), %s), %s,
    src.params, NULL, '', %s, NULL, 'queued', '', '', %s
  FROM src JOIN elig ON elig.id = src.member_id
  ORDER BY src.ord
  ON CONFLICT (member_id, kind, subject_key) DO NOTHING
  RETURNING id, member_id, subject_key, locale, params
),
cnt AS (SELECT member_id, count(*) AS n FROM ins GROUP BY member_id),
ec AS (
  INSERT INTO {counter} (member_id, last) SELECT member_id, n FROM cnt ORDER BY member_id
  ON CONFLICT (member_id) DO UPDATE SET last = {counter}.last + EXCLUDED.last
  RETURNING member_id, last
),
ev AS (
  INSERT INTO {event} (uuid, type, occurred_at, member_id, sequence, schema_version, payload)
  SELECT gen_random_uuid(), %s, %s, ins.member_id,
    ec.last - cnt.n + row_number() OVER (PARTITION BY ins.member_id ORDER BY ins.id), %s,
    jsonb_build_object('{external_id}', elig.external_id, 'message_id', ins.id, 'kind', %s,
      'subject_key', ins.subject_key, 'locale', ins.locale, 'params', ins.params)
  FROM ins JOIN cnt USING (member_id) JOIN ec USING (member_id)
    JOIN elig ON elig.id = ins.member_id
  ORDER BY ins.member_id, ins.id
  RETURNING 1
)
SELECT id FROM ins ORDER BY id
"""


def _pages(rows: QuerySet):
    """Keyset pages of `rows` (dicts ordered by `member_id`): a member's rows never straddle
    two pages, and only one page is held in memory."""
    after = 0
    while True:
        page = list(rows.filter(member_id__gt=after)[:BATCH])
        if not page:
            return
        if len(page) == BATCH and page[0]["member_id"] != page[-1]["member_id"]:
            last = page[-1]["member_id"]
            page = [row for row in page if row["member_id"] != last]
        after = page[-1]["member_id"]
        yield page


def messages_plan(*, kind: Kind, rows: QuerySet, now: dt.datetime | None = None) -> int:
    """Request `kind`'s messages for a planner's `rows` (a queryset of dicts with `member_id`,
    in member order; the kind's `params_of(row)` gives `(subject_key, params)`), a page of
    `BATCH` rows per short transaction. Returns how many messages were new."""
    now = now or timezone.now()
    requested = 0
    for page in _pages(rows):
        batch = []
        for row in page:
            subject_key, params = kind.params_of(row)
            batch.append(
                {"member_id": row["member_id"], "subject_key": subject_key, "params": params}
            )
        requested += _request_batch(kind=kind, rows=batch, now=now)
    return requested


def message_request(
    *, kind: str, member_id: int, subject_key: str, params: dict | None = None
) -> int:
    """Request one message (an enrolment, a redemption) in the caller's transaction when there
    is one: 1 if new, 0 if the kind is off, the member may not get it, or it was requested."""
    from messaging.daily import kind_timing

    kind_obj = kind_get(kind)
    if not kind_timing(kind_obj)[0]:
        return 0
    return _request_batch(
        kind=kind_obj,
        rows=[{"member_id": member_id, "subject_key": subject_key, "params": params or {}}],
        now=timezone.now(),
    )


def opt_out_record(*, member_id: int, kind: str, actor: Actor) -> bool:
    """Stop `kind`'s messages to the member at once (idempotent: False when already stopped).
    Audited on the member."""
    kind_get(kind)  # an unknown kind is a bug of the caller
    with transaction.atomic():
        member = Member.objects.get(pk=member_id)
        opt_out, created = OptOut.objects.get_or_create(member_id=member_id, kind=kind)
        if created:
            audit_record(
                actor=actor,
                action="messages.opt_out",
                target=opt_out,
                member=member,
                changes={"kind": ["", kind]},
            )
    return created


def suppression_record(*, address: str, reason: str, provider_event_id: str = "") -> bool:
    """Send nothing more to `address` (a bounce or a complaint); idempotent."""
    address = (address or "").strip().lower()
    if not address:
        return False
    _, created = Suppression.objects.get_or_create(
        address=address, defaults={"reason": reason, "provider_event_id": provider_event_id}
    )
    return created


__all__ = [
    "message_request",
    "messages_plan",
    "opt_out_record",
    "suppression_record",
]
