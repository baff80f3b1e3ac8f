"""Column mappings: which column of a file holds the order id, the customer, the date, the money.

A `Profile` is what the parsers read. The canonical `orders` format and the UCI `online-retail`
line layout are built in; staff define more in the admin (`ImportProfile`), and `--format auto`
recognises a file by its header. Shopify's export has its own parser (its order fields sit on the
first row of each order only), so it is a format, not a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from config.errors import ServiceError
from loyalty.models import ImportProfile
from members.actors import Actor
from members.services import audit_record

ORDERS, LINES, SHOPIFY = "orders", "lines", "shopify"
FORMATS = ("auto", ORDERS, LINES, SHOPIFY)

# Canonical field -> is it required, per layout (a profile maps them to its own column names).
ORDERS_FIELDS = {
    "order_id": True,
    "customer_id": True,
    "email": False,
    "placed_at": True,
    "total": True,
    "currency": False,
    "eligible_total": False,
    "refunded_total": False,
    "first_name": False,
    "last_name": False,
}
LINES_FIELDS = {
    "order_id": True,
    "customer_id": True,
    "placed_at": True,
    "quantity": False,
    "unit_price": False,
    "total": False,  # a line total, when the file has no quantity × unit price
    "sku": False,
    "description": False,
    "currency": False,
    "email": False,
    "first_name": False,
    "last_name": False,
    "country": False,  # a name or a code: fills the member's country when unknown
}

SHOPIFY_REQUIRED = ("Name", "Email", "Financial Status", "Currency", "Subtotal", "Total")
SHOPIFY_SIGNATURE = ("Name", "Financial Status", "Lineitem quantity")


@dataclass(frozen=True)
class Profile:
    name: str
    layout: str  # ORDERS or LINES
    columns: Mapping[str, str]  # canonical field -> column name in the file
    date_formats: tuple[str, ...] = ()
    currency: str = ""  # fixed currency when there is no currency column
    refund_prefix: str = ""
    refund_negative_quantity: bool = False
    # A line's unit price may have up to this many decimals (2-4; `values.unit_price_units`).
    unit_price_decimals: int = 4
    builtin: bool = False
    required_columns: tuple[str, ...] = field(default=())

    def required(self) -> list[str]:
        """Column names the file must have."""
        spec = ORDERS_FIELDS if self.layout == ORDERS else LINES_FIELDS
        names = [self.columns[f] for f, req in spec.items() if req and f in self.columns]
        if self.layout == ORDERS and "currency" in self.columns and not self.currency:
            names.append(self.columns["currency"])
        return [*names, *self.required_columns]


CANONICAL_ORDERS = Profile(
    name=ORDERS,
    layout=ORDERS,
    columns={f: f for f in ORDERS_FIELDS},
    builtin=True,
    # The documented format names an email column (the value may be empty).
    required_columns=("email",),
)

ONLINE_RETAIL = Profile(
    name="online-retail",
    layout=LINES,
    columns={
        "order_id": "InvoiceNo",
        "sku": "StockCode",
        "description": "Description",
        "quantity": "Quantity",
        "placed_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    },
    # The sample is ISO; the original UCI spreadsheet export writes 12/1/2010 8:26.
    date_formats=("iso", "%m/%d/%Y %H:%M"),
    currency="GBP",
    refund_prefix="C",
    builtin=True,
    required_columns=("Quantity", "UnitPrice"),
)

BUILTIN = {ORDERS: CANONICAL_ORDERS, ONLINE_RETAIL.name: ONLINE_RETAIL}


def profile_from_model(obj: ImportProfile) -> Profile:
    mapping = {
        "order_id": obj.col_order_id,
        "customer_id": obj.col_customer_id,
        "placed_at": obj.col_placed_at,
        "total": obj.col_total,
        "eligible_total": obj.col_eligible_total,
        "refunded_total": obj.col_refunded_total,
        "quantity": obj.col_quantity,
        "unit_price": obj.col_unit_price,
        "sku": obj.col_sku,
        "description": obj.col_description,
        "currency": obj.col_currency,
        "email": obj.col_email,
        "first_name": obj.col_first_name,
        "last_name": obj.col_last_name,
    }
    spec = ORDERS_FIELDS if obj.layout == ORDERS else LINES_FIELDS
    columns = {k: v.strip() for k, v in mapping.items() if v and v.strip() and k in spec}
    return Profile(
        name=obj.name,
        layout=obj.layout,
        columns=columns,
        date_formats=(obj.date_format,) if obj.date_format else (),
        currency=obj.fixed_currency.upper() if not obj.col_currency else "",
        refund_prefix=obj.refund_prefix if obj.refund_marker == "prefix" else "",
        refund_negative_quantity=obj.refund_marker == "negative",
        unit_price_decimals=obj.unit_price_decimals,
    )


def profile_get(name: str) -> Profile:
    if name in BUILTIN:
        return BUILTIN[name]
    obj = ImportProfile.objects.filter(name=name).first()
    if obj is None:
        known = sorted([*BUILTIN, *ImportProfile.objects.values_list("name", flat=True)])
        raise ServiceError(
            "unknown_profile", f"No import profile named '{name}'. Known: {', '.join(known)}."
        )
    return profile_from_model(obj)


def _has(header_keys: set[str], names) -> bool:
    return all(n.lower() in header_keys for n in names)


def detect(header: list[str]) -> tuple[str, Profile | None]:
    """(format, profile) for a header, or `unknown_layout` naming what was seen."""
    keys = {h.lower() for h in header if h}
    if _has(keys, CANONICAL_ORDERS.required()):
        return ORDERS, CANONICAL_ORDERS
    if _has(keys, SHOPIFY_SIGNATURE):
        return SHOPIFY, None
    if _has(keys, ONLINE_RETAIL.required()):
        return LINES, ONLINE_RETAIL
    matches = []
    for obj in ImportProfile.objects.all():
        profile = profile_from_model(obj)
        if _has(keys, profile.required()):
            matches.append(profile)
    if len(matches) == 1:
        return matches[0].layout, matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise ServiceError(
            "ambiguous_layout",
            f"The header fits several profiles ({names}); choose one with --profile.",
        )
    # Nothing fits exactly: the layout the header is closest to, if it has most of its columns,
    # so that the operator hears which columns are missing rather than "unrecognised".
    candidates = [
        (ORDERS, CANONICAL_ORDERS, CANONICAL_ORDERS.required()),
        (SHOPIFY, None, list(SHOPIFY_REQUIRED)),
        (LINES, ONLINE_RETAIL, ONLINE_RETAIL.required()),
    ]
    best, best_score = None, 0.0
    for fmt, profile, needed in candidates:
        score = sum(n.lower() in keys for n in needed) / len(needed)
        if score > best_score:
            best, best_score = (fmt, profile), score
    if best is not None and best_score >= 0.5:
        return best
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    raise ServiceError(
        "unknown_layout",
        f"Unrecognised columns ({shown}). Expected the orders format (order_id, customer_id, "
        "email, placed_at, total, currency), a Shopify orders export, the online-retail layout, "
        "or a profile defined in the admin (--profile NAME).",
    )


PROFILE_FIELDS = (
    "name",
    "description",
    "layout",
    "col_order_id",
    "col_customer_id",
    "col_placed_at",
    "date_format",
    "col_total",
    "col_eligible_total",
    "col_refunded_total",
    "col_quantity",
    "col_unit_price",
    "unit_price_decimals",
    "col_sku",
    "col_description",
    "col_currency",
    "fixed_currency",
    "col_email",
    "col_first_name",
    "col_last_name",
    "refund_marker",
    "refund_prefix",
)


def import_profile_save(
    *, actor: Actor, profile: ImportProfile | None = None, **fields
) -> ImportProfile:
    """Create or change a column-mapping profile (validated, audited)."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ServiceError("validation_error", f"Unknown field: {sorted(unknown)[0]}", status=400)
    creating = profile is None
    obj = profile or ImportProfile()
    before = {f: getattr(obj, f) for f in fields} if not creating else {}
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.updated_at = timezone.now()
    obj.full_clean()
    with transaction.atomic():
        obj.save()
        audit_record(
            actor=actor,
            action="import_profile.create" if creating else "import_profile.change",
            target=obj,
            changes={
                f: (before.get(f), v) for f, v in fields.items() if creating or before[f] != v
            },
        )
    return obj


def import_profile_delete(*, actor: Actor, profile: ImportProfile) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="import_profile.delete", target=profile)
        profile.delete()
