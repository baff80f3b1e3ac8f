"""Segment condition trees: their shape, and the validation that refuses a bad one with the path
of the bad node.

A tree is a node:

- `{"all": [node, …]}`: every child holds (an empty ALL holds for everyone);
- `{"any": [node, …]}`: at least one child holds (an empty ANY is refused: it would hold for
  no one, which is never what was meant);
- a condition `{"field": …, "op": …, "value": …}` plus the field's own parameters
  (`window_days`, `within_days`).

The fields, their value types, operators and parameters are `FIELDS`. `conditions_validate`
returns the tree normalised (money as strings, codes as sorted lists) or raises a
`ValidationError` with code `invalid_condition` whose message starts with the node's path,
e.g. `all[1].any[0].value: …`. The compiler (`segments.compiler`) only ever sees valid trees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from members.countries import COUNTRY_CODES
from segments.models import RfmGroup

NUMERIC_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
SET_OPS = ("in", "not_in")
BOOL_OPS = ("is",)
MAX_DEPTH = 8
MAX_NODES = 200


@dataclass(frozen=True)
class FieldSpec:
    type: str  # int, money, score, date, bool, codes, months, plans
    ops: tuple[str, ...]
    params: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (min, max)
    choices: tuple[str, ...] = ()


_WINDOW = {"window_days": (1, 3650)}
FIELDS: dict[str, FieldSpec] = {
    "tier": FieldSpec("codes", SET_OPS),
    "rfm_group": FieldSpec("codes", SET_OPS, choices=tuple(RfmGroup.values)),
    "recency_score": FieldSpec("score", NUMERIC_OPS),
    "frequency_score": FieldSpec("score", NUMERIC_OPS),
    "monetary_score": FieldSpec("score", NUMERIC_OPS),
    "spend": FieldSpec("money", NUMERIC_OPS, _WINDOW),
    "orders": FieldSpec("int", NUMERIC_OPS, _WINDOW),
    "average_order": FieldSpec("money", NUMERIC_OPS, _WINDOW),
    "days_since_last_order": FieldSpec("int", NUMERIC_OPS),
    "enrolled": FieldSpec("date", NUMERIC_OPS),
    "birthday_month": FieldSpec("months", SET_OPS),
    "points_balance": FieldSpec("int", NUMERIC_OPS),
    "points_expiring": FieldSpec("int", NUMERIC_OPS, {"within_days": (1, 3650)}),
    "category": FieldSpec("codes", SET_OPS),
    "sku": FieldSpec("codes", SET_OPS),
    "club": FieldSpec("codes", SET_OPS),
    "paid_plan": FieldSpec("bool", BOOL_OPS),
    "plan": FieldSpec("codes", SET_OPS),
    "marketing_consent": FieldSpec("bool", BOOL_OPS),
    "country": FieldSpec("codes", SET_OPS, choices=tuple(sorted(COUNTRY_CODES))),
    "nps_detractor": FieldSpec("bool", BOOL_OPS),
}
# Parameters a field needs (the others are optional).
REQUIRED_PARAMS = {"points_expiring": ("within_days",)}


def _bad(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", code="invalid_condition")


def _scalar(spec: FieldSpec, value, path: str):
    if spec.type in ("int", "score"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(path, _("a whole number is expected."))
        if spec.type == "score" and not 1 <= value <= 5:
            raise _bad(path, _("a score is from 1 to 5."))
        return value
    if spec.type == "money":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(path, _('an amount is expected, such as "25.00".'))
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise _bad(path, _('an amount is expected, such as "25.00".')) from None
        if not amount.is_finite():
            raise _bad(path, _('an amount is expected, such as "25.00".'))
        return str(amount.quantize(Decimal("0.01")))
    if spec.type == "date":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise _bad(path, _("a date is expected, as YYYY-MM-DD.")) from None
    raise AssertionError(spec.type)


def _value(spec: FieldSpec, op: str, value, path: str):
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise _bad(path, _("true or false is expected."))
        return value
    if spec.type in ("codes", "months"):
        if not isinstance(value, list) or not value:
            raise _bad(path, _("a non-empty list is expected."))
        if spec.type == "months":
            if any(isinstance(v, bool) or v not in range(1, 13) for v in value):
                raise _bad(path, _("months are numbers from 1 to 12."))
            return sorted(set(value))
        if any(not isinstance(v, str) or not v.strip() or len(v) > 64 for v in value):
            raise _bad(path, _("codes are non-empty texts of at most 64 characters."))
        unknown = sorted({v for v in value if spec.choices and v not in spec.choices})
        if unknown:
            raise _bad(path, _("unknown value %(values)s.") % {"values": ", ".join(unknown)})
        return sorted({v.strip() for v in value})
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _bad(path, _("a list of two bounds [low, high] is expected."))
        low, high = (_scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(value))
        if _key(spec, low) > _key(spec, high):
            raise _bad(path, _("the low bound is above the high bound."))
        return [low, high]
    return _scalar(spec, value, path)


def _key(spec: FieldSpec, value):
    return Decimal(value) if spec.type == "money" else value


def _condition(node: dict, path: str) -> dict:
    name = node.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _bad(f"{path}.field", _("unknown field %(field)s.") % {"field": repr(name)})
    op = node.get("op")
    if op not in spec.ops:
        raise _bad(
            f"{path}.op",
            _("%(field)s takes the operators %(ops)s.")
            % {"field": name, "ops": ", ".join(spec.ops)},
        )
    allowed = {"field", "op", "value", *spec.params}
    extra = sorted(set(node) - allowed)
    if extra:
        raise _bad(f"{path}.{extra[0]}", _("unknown key for %(field)s.") % {"field": name})
    if "value" not in node:
        raise _bad(f"{path}.value", _("a value is required."))
    clean = {"field": name, "op": op, "value": _value(spec, op, node["value"], f"{path}.value")}
    for param, (low, high) in spec.params.items():
        if param not in node:
            if param in REQUIRED_PARAMS.get(name, ()):
                raise _bad(f"{path}.{param}", _("this parameter is required."))
            continue
        value = node[param]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(
                f"{path}.{param}",
                _("a whole number from %(low)s to %(high)s is expected.")
                % {"low": low, "high": high},
            )
        clean[param] = value
    return clean


def _node(node, path: str, depth: int, count: list[int]) -> dict:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _bad(path, _("too many conditions (at most %(n)s).") % {"n": MAX_NODES})
    if depth > MAX_DEPTH:
        raise _bad(path, _("nested too deep (at most %(n)s levels).") % {"n": MAX_DEPTH})
    if not isinstance(node, dict):
        raise _bad(path, _("a condition or a group is expected."))
    groups = [key for key in ("all", "any") if key in node]
    if groups:
        key = groups[0]
        if len(node) != 1:
            raise _bad(path, _("a group has one key, all or any, and nothing else."))
        children = node[key]
        child_path = f"{path}.{key}" if path else key
        if not isinstance(children, list):
            raise _bad(child_path, _("a list of conditions is expected."))
        if key == "any" and not children:
            raise _bad(child_path, _("an ANY needs at least one condition."))
        return {
            key: [_node(c, f"{child_path}[{i}]", depth + 1, count) for i, c in enumerate(children)]
        }
    return _condition(node, path or "root")


def conditions_validate(tree) -> dict:
    """The tree, checked and normalised; `ValidationError(code="invalid_condition")` naming the
    path of the first bad node otherwise."""
    if tree in (None, {}):
        return {"all": []}
    return _node(tree, "", 0, [0])
