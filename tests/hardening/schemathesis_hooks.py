"""Schemathesis hooks for tests/hardening/test_schemathesis.py (loaded via SCHEMATHESIS_HOOKS).

Only *schema-valid* (positive) parts of a case are touched, and only where the server refuses a
value for a reason JSON Schema cannot say, so that "valid request rejected" means a real mismatch:
- an order's `placed_at` or a refund's `refunded_at` in the future (`This time is in the
  future`: it depends on the clock) is moved into the past; an order's `eligible_total` above
  its `total` (refused: the schema cannot compare two fields) is brought down to it;
- a redemption's `points` and `order_total` are required for a `points_discount` reward and
  refused for any other (the kind of the reward the code names; the stateful phase fills in a
  code from `GET /rewards` after this hook): the test seeds no `points_discount` reward, and
  they are dropped;
- an enrolment's `referral_code` must name an existing member, and it and `enrolled_at` belong
  to the enrolment (a later PUT with another value is `400`, docs/api.md), so whether they are
  valid depends on whether the member exists: both are dropped from a PUT; and `email` is
  required only to enrol (a new id): a PUT without one (or without a body) gets one; a
  `birth_date` in the future (refused: it depends on the clock) is moved into the past;
- a `csat` feedback score is 1-5 and an `nps` one 0-10 (the schema says 0-10 for both): a csat
  score outside 1-5 is brought into it;
- a string the server reads as blank once trimmed (Python's `str.strip`: whitespace and the
  control characters \\x1c-\\x1f, which JSON Schema's patterns do not treat as space) gets a letter.
A negative case keeps its invalid part as generated.

And so that operations on a member get past `404` sometimes, a valid `external_id` is replaced by
one of the members the test seeded (`SCHEMATHESIS_SEEDED_MEMBERS`, comma-separated) for one case
in three, chosen by the generated value (deterministic with the seed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from decimal import Decimal

import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
SEEDED = [m for m in os.environ.get("SCHEMATHESIS_SEEDED_MEMBERS", "").split(",") if m]


def _positive(case, location: ParameterLocation) -> bool:
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(location)
    mode = component.mode if component is not None else meta.generation.mode
    return mode == GenerationMode.POSITIVE


@schemathesis.hook
def map_case(context, case):
    if case.path_parameters and _positive(case, ParameterLocation.PATH):
        _seeded_member(case.path_parameters)
    path, method = case.operation.path, case.operation.method.upper()
    if (method, path) == ("PUT", "/api/v1/members/{external_id}") and not isinstance(
        case.body, dict
    ):
        case.body = {}  # no body at all: an enrolment then needs its email like any other
    if isinstance(case.body, dict) and _positive(case, ParameterLocation.BODY):
        if (method, path) == ("POST", "/api/v1/orders"):
            _in_the_past(case.body, "placed_at")
            _eligible_within_total(case.body)
        if path.endswith("/refunds"):
            _in_the_past(case.body, "refunded_at")
        if path.endswith("/redemptions"):
            _points_for_the_points_reward(case.body)
        if (method, path) == ("PUT", "/api/v1/members/{external_id}"):
            case.body.pop("referral_code", None)
            case.body.pop("enrolled_at", None)
            case.body.setdefault("email", "schemathesis@example.com")
            _born_in_the_past(case.body)
        if path.endswith("/feedback"):
            _csat_in_range(case.body)
        case.body = _not_blank(case.body)
    return case


def _seeded_member(path_parameters: dict) -> None:
    value = path_parameters.get("external_id")
    if SEEDED and isinstance(value, str) and EXTERNAL_ID.match(value):
        digest = hashlib.sha256(value.encode()).digest()
        if digest[0] % 3 == 0:
            path_parameters["external_id"] = SEEDED[digest[1] % len(SEEDED)]


def _in_the_past(body: dict, field: str) -> None:
    value = body.get(field)
    if not isinstance(value, str):
        return
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return
    if moment.tzinfo is not None and moment > dt.datetime.now(dt.UTC):
        body[field] = "2025-06-01T12:00:00Z"


def _born_in_the_past(body: dict) -> None:
    value = body.get("birth_date")
    if not isinstance(value, str):
        return
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return
    if day > dt.date.today() - dt.timedelta(days=2):  # the server's "today" is its time zone's
        body["birth_date"] = "1990-06-01"


def _eligible_within_total(body: dict) -> None:
    total, eligible = body.get("total"), body.get("eligible_total")
    if isinstance(total, str) and isinstance(eligible, str):
        try:
            if Decimal(eligible) > Decimal(total):
                body["eligible_total"] = total
        except ArithmeticError:
            return


def _points_for_the_points_reward(body: dict) -> None:
    body.pop("points", None)
    body.pop("order_total", None)


def _csat_in_range(body: dict) -> None:
    score = body.get("score")
    if body.get("scale") == "csat" and isinstance(score, int) and not 1 <= score <= 5:
        body["score"] = 1 + score % 5


def _not_blank(value):
    if isinstance(value, dict):
        return {k: _not_blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_not_blank(v) for v in value]
    if isinstance(value, str) and value and not value.strip():
        return "x"
    return value
