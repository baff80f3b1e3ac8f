"""What the visual segment builder (static/backoffice/segment_builder.js) needs to draw a tree:
every field with its label, value type, operators, parameters and, where the values are a known
list, the choices (tiers, RFM groups, clubs, plans, countries, months), plus the labels of the
operators and the widget's own words, all in the staff member's language.

Invariants:
- The fields, operators and parameters are `segments.conditions.FIELDS`, nothing else: the
  widget can only build what the validation accepts (and the server validates again).
- The JSON tree stays the stored form: the widget writes it into the form's field.
- Three small queries (tiers, clubs, plans), whatever the number of members.
"""

from __future__ import annotations

from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from loyalty.models import Tier
from members.countries import country_choices
from memberships.models import Plan
from segments.conditions import FIELDS, REQUIRED_PARAMS
from segments.models import Club, RfmGroup


def _labels() -> dict[str, str]:
    return {
        "tier": _("Tier"),
        "rfm_group": _("RFM group"),
        "recency_score": _("Recency score"),
        "frequency_score": _("Frequency score"),
        "monetary_score": _("Monetary score"),
        "spend": _("Spend"),
        "orders": _("Orders"),
        "average_order": _("Average order"),
        "days_since_last_order": _("Days since the last order"),
        "enrolled": _("Enrolment date"),
        "birthday_month": _("Birthday month"),
        "points_balance": _("Points balance"),
        "points_expiring": _("Points expiring"),
        "category": _("Category bought"),
        "sku": _("SKU bought"),
        "club": _("Club"),
        "paid_plan": _("Holds a paid plan"),
        "plan": _("Paid plan"),
        "marketing_consent": _("Marketing consent"),
        "country": _("Country"),
        "nps_detractor": _("NPS detractor"),
    }


def _ops() -> dict[str, str]:
    return {
        "eq": _("equals"),
        "ne": _("is not"),
        "gt": _("more than"),
        "gte": _("at least"),
        "lt": _("less than"),
        "lte": _("at most"),
        "between": _("between"),
        "in": _("is one of"),
        "not_in": _("is none of"),
        "is": _("is"),
    }


def _params() -> dict[str, str]:
    return {
        "window_days": _("in the last … days (empty: lifetime)"),
        "within_days": _("within … days"),
    }


def _choices() -> dict[str, list[list[str]]]:
    return {
        "tier": [[t.code, t.name] for t in Tier.objects.order_by("rank")],
        "rfm_group": [[value, str(label)] for value, label in RfmGroup.choices],
        "club": [[c.code, c.name] for c in Club.objects.order_by("name", "code")],
        "plan": [[p.code, p.name] for p in Plan.objects.order_by("name", "code")],
        "country": [list(choice) for choice in country_choices()],
        "birthday_month": [[n, str(name)] for n, name in MONTHS.items()],
    }


def _texts() -> dict[str, str]:
    return {
        "all": _("ALL of these hold"),
        "any": _("ANY of these holds"),
        "add_condition": _("Add a condition"),
        "add_group": _("Add a group"),
        "remove": _("Remove"),
        "yes": _("yes"),
        "no": _("no"),
        "and": _("and"),
        "values_hint": _("several values: separate them with commas"),
        "not_drawn": _(
            "This tree cannot be drawn (edit it as JSON below); the count still follows it."
        ),
        "builder": _("Conditions"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": pgettext("segment condition", "Value"),
    }


def builder_spec() -> dict:
    labels, params, choices = _labels(), _params(), _choices()
    fields = [
        {
            "name": name,
            "label": labels.get(name, name),
            "type": spec.type,
            "ops": list(spec.ops),
            "params": [
                {
                    "name": param,
                    "label": params.get(param, param),
                    "min": low,
                    "max": high,
                    "required": param in REQUIRED_PARAMS.get(name, ()),
                }
                for param, (low, high) in spec.params.items()
            ],
            "choices": choices.get(name),
        }
        for name, spec in FIELDS.items()
    ]
    return {"fields": fields, "ops": _ops(), "texts": _texts()}
