"""Checks across rows and against the ledger, set-based over the staged rows.

Row-level checks happen while parsing; these need the whole file or the database:
- an order id on several rows with different content is an error on each of those rows; with the
  same content, the repeats are skipped (a file concatenated twice imports once);
- an order id already recorded with the same content is "already present" (skipped); with other
  content it is an `order_conflict`;
- a customer whose member was erased, and a new customer whose email another member (or another
  customer of the file) already uses, are errors;
- refunds: of an order being imported, of an order already in the ledger (whose refunds so far
  count), never more than the order; a refund already recorded is present, with other content a
  `refund_conflict`; a cumulative refunded total lower than what the ledger has is a conflict;
- finally every row of an order with an error is rejected with it (`order_rejected`), so an order
  is never written in part.

All SQL here runs unchanged on PostgreSQL and SQLite.
"""

from __future__ import annotations

import json
from contextlib import nullcontext

from loyalty.importing import staging
from loyalty.importing.formats import items_json, order_fingerprint
from loyalty.importing.staging import execute, from_utc_text, rows
from members.erasure import external_id_pseudonym


def _error_insert(select_sql: str, params=()) -> int:
    """Insert errors from a SELECT of (row_no, col, value, code, message, order_id)."""
    return execute(
        "INSERT INTO imp_errors (row_no, seq, col, value, code, message, order_id) "
        f"SELECT e.row_no, 0, e.col, e.value, e.code, e.message, e.order_id FROM ({select_sql}) e",
        params,
    )


def _txt(expr: str) -> str:
    return f"CAST({expr} AS TEXT)"


def lines_precheck(order_column: str, customer_column: str) -> None:
    """Before assembling lines: an order id whose lines name several customers is an error."""
    _error_insert(
        "SELECT r.row_no AS row_no, %s AS col, r.ckey AS value, 'order_conflict' AS code, "
        f"'row ' || {_txt('r.row_no')} || ': order ' || r.order_id || "
        "' has lines for several customers' AS message, r.order_id AS order_id "
        "FROM imp_rows r WHERE r.order_id IN (SELECT order_id FROM imp_rows "
        "GROUP BY order_id HAVING COUNT(DISTINCT ckey) > 1)",
        [customer_column],
    )
    execute(
        "UPDATE imp_rows SET bad = 1 WHERE order_id IN "
        "(SELECT order_id FROM imp_errors WHERE order_id IS NOT NULL)"
    )


DUPLICATED = "SELECT order_id FROM imp_orders GROUP BY order_id HAVING COUNT(*) > 1"


def duplicates(orders_have_refunds: bool) -> int:
    """Same order id on several rows: different content is an error, the same is skipped.

    Returns how many repeated rows were skipped. For orders and Shopify files a row's refunded
    total is part of its content.
    """
    if not staging.scalar(f"SELECT COUNT(*) FROM ({DUPLICATED}) d"):
        # No order id on two rows (the usual file): one pass over the order ids instead of the
        # statements below (1.6 of the 2.5 s that checking 300,000 orders took).
        cascade()
        _repeated_refunds_skip()
        return 0
    content = (
        "o.fingerprint || ':' || COALESCE((SELECT " + _txt("MAX(r.amount_cents)") + " FROM "
        "imp_refunds r WHERE r.row_no = o.row_no), '0')"
        if orders_have_refunds
        else "o.fingerprint"
    )
    _error_insert(
        "SELECT o.row_no AS row_no, o.id_col AS col, o.order_id AS value, "
        "'duplicate_order' AS code, 'row ' || " + _txt("o.row_no") + " || ': order ' || "
        "o.order_id || ' appears more than once in the file with different content (rows ' || "
        + _txt("d.first_row")
        + " || ' to ' || "
        + _txt("d.last_row")
        + " || ')' AS message, o.order_id AS order_id FROM imp_orders o JOIN ("
        "SELECT x.order_id, MIN(x.row_no) AS first_row, MAX(x.row_no) AS last_row "
        f"FROM (SELECT o.order_id, o.row_no, {content} AS content FROM imp_orders o "
        f"WHERE o.order_id IN ({DUPLICATED})) x "
        "GROUP BY x.order_id HAVING COUNT(DISTINCT x.content) > 1) d ON d.order_id = o.order_id"
    )
    cascade()
    skipped = execute(
        f"UPDATE imp_orders SET bad = 2 WHERE bad = 0 AND order_id IN ({DUPLICATED}) AND EXISTS "
        "(SELECT 1 FROM imp_orders e WHERE e.order_id = imp_orders.order_id "
        "AND e.row_no < imp_orders.row_no)"
    )
    _repeated_refunds_skip()
    return max(skipped, 0)


def _repeated_refunds_skip() -> None:
    """A refund on several rows (the same refund id) is written once: its first row."""
    execute(
        "UPDATE imp_refunds SET bad = 2 WHERE bad = 0 AND refund_id IN (SELECT refund_id FROM "
        "imp_refunds GROUP BY refund_id HAVING COUNT(*) > 1) AND EXISTS (SELECT 1 FROM "
        "imp_refunds e WHERE e.refund_id = imp_refunds.refund_id AND e.row_no < imp_refunds.row_no)"
    )


def remap_email_customers() -> int:
    """Shopify files key customers by their email's pseudonym (`external_id_for_email`). A
    customer no member has that id for may be a member already, under another id:

    - a member erased under the email itself as their id (before ids were pseudonymised on
      import) now has its erasure pseudonym: that is the customer, and their new orders are
      refused (`member_erased` in `customers`), whoever holds the email since;
    - a member holding the email (enrolled by the storefront, or imported before, under the
      email as id) gets the orders.

    Their staged orders take that member's external id, and fingerprints are recomputed with the
    id the ledger's orders were recorded under (the email, for a member imported under it).
    Returns how many orders were remapped.
    """
    unknown = (
        "o.email <> '' AND NOT EXISTS (SELECT 1 FROM members_member k WHERE k.external_id = o.ckey)"
    )
    targets: dict[str, tuple[str, str]] = {}  # ckey -> (member's external id, fingerprint's)
    customers = rows(f"SELECT DISTINCT o.ckey, o.email FROM imp_orders o WHERE {unknown}")
    by_pseudonym = {external_id_pseudonym(email): (ckey, email) for ckey, email in customers}
    found = list(by_pseudonym)
    for start in range(0, len(found), 500):
        chunk = found[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        for (external_id,) in rows(
            f"SELECT external_id FROM members_member WHERE external_id IN ({marks})", chunk
        ):
            ckey, email = by_pseudonym[external_id]
            targets[ckey] = (external_id, email)
    for ckey, external_id in rows(
        "SELECT DISTINCT o.ckey, m.external_id FROM imp_orders o JOIN members_member m "
        f"ON LOWER(m.email) = o.email WHERE m.external_id <> o.ckey AND {unknown}"
    ):
        targets.setdefault(ckey, (external_id, external_id))
    return sum(_remap(ckey, *target) for ckey, target in targets.items())


def _remap(ckey: str, external_id: str, fingerprint_member: str) -> int:
    remapped = 0
    for row_no, placed, currency, total, eligible, items in rows(
        "SELECT row_no, placed_at, currency, total_cents, eligible_cents, items "
        "FROM imp_orders WHERE ckey = %s",
        [ckey],
    ):
        _, hashed = items_json(json.loads(items))
        fingerprint = order_fingerprint(
            member=fingerprint_member,
            placed_at=from_utc_text(placed),
            currency=currency,
            total_cents=total,
            eligible_cents=eligible,
            items_sorted_json=hashed,
        )
        execute(
            "UPDATE imp_orders SET ckey = %s, fingerprint = %s WHERE row_no = %s",
            [external_id, fingerprint, row_no],
        )
        remapped += 1
    execute("UPDATE imp_refunds SET ckey = %s WHERE ckey = %s", [external_id, ckey])
    return remapped


def against_ledger() -> None:
    """Orders already recorded: same content present, other content a conflict."""
    same = (
        "bad = 0 AND EXISTS (SELECT 1 FROM loyalty_order l WHERE l.order_id = imp_orders.order_id "
        "AND l.fingerprint = imp_orders.fingerprint)"
    )
    # A file imported again (a later export of the shop: mostly orders already recorded) marks
    # many staged rows (more than one in ten): their indexes are then built again after, rather
    # than updated row by row.
    most = staging.scalar(f"SELECT COUNT(*) FROM imp_orders WHERE {same}") * 10 > staging.scalar(
        "SELECT COUNT(*) FROM imp_orders"
    )
    with staging.indexes_suspended("imp_orders") if most else nullcontext():
        execute(f"UPDATE imp_orders SET present = 1 WHERE {same}")
    _error_insert(
        "SELECT o.row_no AS row_no, o.id_col AS col, o.order_id AS value, "
        "'order_conflict' AS code, 'row ' || " + _txt("o.row_no") + " || ': order ' || "
        "o.order_id || ' is already recorded with different content' AS message, "
        "o.order_id AS order_id FROM imp_orders o JOIN loyalty_order l ON l.order_id = o.order_id "
        "WHERE o.bad = 0 AND l.fingerprint <> o.fingerprint"
    )


def customers(customer_column: str, email_column: str) -> None:
    """Erased members, and emails another member or another customer already uses."""
    _error_insert(
        "SELECT o.row_no AS row_no, %s AS col, o.ckey AS value, 'member_erased' AS code, "
        "'row ' || " + _txt("o.row_no") + " || ': customer ' || o.ckey || "
        "'''s member data has been erased; nothing more is recorded for them' AS message, "
        "o.order_id AS order_id FROM imp_orders o JOIN members_member m "
        "ON m.external_id = o.ckey WHERE o.bad = 0 AND o.present = 0 AND m.status = 'erased'",
        [customer_column],
    )
    taken = rows(
        "SELECT d.ckey, d.email FROM (SELECT DISTINCT ckey, email FROM imp_orders "
        "WHERE email <> '' AND bad = 0 AND present = 0) d "
        "JOIN members_member m ON LOWER(m.email) = d.email "
        "WHERE m.external_id <> d.ckey AND NOT EXISTS "
        "(SELECT 1 FROM members_member k WHERE k.external_id = d.ckey)"
    )
    shared = rows(
        "SELECT email FROM (SELECT DISTINCT ckey, email FROM imp_orders WHERE email <> '' "
        "AND bad = 0) d GROUP BY email HAVING COUNT(*) > 1"
    )
    problems: list[tuple[str, str, str]] = [
        (ckey, email, "another member already uses this email") for ckey, email in taken
    ]
    for (email,) in shared:
        owners = rows(
            "SELECT ckey, MIN(row_no) FROM imp_orders WHERE email = %s AND bad = 0 "
            "GROUP BY ckey ORDER BY MIN(row_no)",
            [email],
        )
        first = owners[0][0]
        problems.extend(
            (ckey, email, f"customer {first} of this file already uses this email")
            for ckey, _ in owners[1:]
        )
    for ckey, email, why in problems:
        if staging.scalar("SELECT 1 FROM members_member WHERE external_id = %s", [ckey]):
            continue  # an existing member keeps their own email; the file's is not used
        _error_insert(
            "SELECT o.row_no AS row_no, %s AS col, o.email AS value, 'email_taken' AS code, "
            "'row ' || " + _txt("o.row_no") + " || ': ' || o.email || ': ' || %s AS message, "
            "o.order_id AS order_id FROM imp_orders o "
            "WHERE o.ckey = %s AND o.email = %s AND o.bad = 0",
            [email_column, why, ckey, email],
        )


def refunds() -> None:
    """Classify, match and bound the staged refunds (after orders are settled)."""
    cascade()
    # Refunds of orders being written now go with them; of recorded orders, through the ledger.
    execute(
        "UPDATE imp_refunds SET target = 'new', apply_cents = amount_cents WHERE bad = 0 AND "
        "EXISTS (SELECT 1 FROM imp_orders o WHERE o.order_id = imp_refunds.order_id "
        "AND o.bad = 0 AND o.present = 0)"
    )
    execute(
        "UPDATE imp_refunds SET target = 'db' WHERE bad = 0 AND target = '' AND EXISTS "
        "(SELECT 1 FROM loyalty_order l WHERE l.order_id = imp_refunds.order_id)"
    )
    execute("UPDATE imp_refunds SET bad = 3 WHERE bad = 0 AND target = ''")
    # One refund each (a line file's return): present if recorded with the same content.
    execute(
        "UPDATE imp_refunds SET present = 1 WHERE bad = 0 AND cumulative = 0 AND EXISTS "
        "(SELECT 1 FROM loyalty_refund f WHERE f.refund_id = imp_refunds.refund_id "
        "AND f.fingerprint = imp_refunds.fingerprint)"
    )
    _error_insert(
        "SELECT r.row_no AS row_no, r.col AS col, r.refund_id AS value, 'refund_conflict' AS "
        "code, 'row ' || " + _txt("r.row_no") + " || ': refund ' || r.refund_id || "
        "' is already recorded with different content' AS message, r.refund_id AS order_id "
        "FROM imp_refunds r JOIN loyalty_refund f ON f.refund_id = r.refund_id "
        "WHERE r.bad = 0 AND r.cumulative = 0 AND f.fingerprint <> r.fingerprint"
    )
    # A refunded total (orders and Shopify files) of a recorded order: only what is new.
    execute(
        "UPDATE imp_refunds SET apply_cents = amount_cents - (SELECT "
        + _cents("l.refunded_total")
        + " FROM loyalty_order l WHERE l.order_id = imp_refunds.order_id) "
        "WHERE bad = 0 AND target = 'db' AND cumulative = 1"
    )
    execute(
        "UPDATE imp_refunds SET present = 1 WHERE bad = 0 AND target = 'db' AND cumulative = 1 "
        "AND apply_cents = 0"
    )
    _error_insert(
        "SELECT r.row_no AS row_no, r.col AS col, " + _txt("r.amount_cents") + " AS value, "
        "'refund_conflict' AS code, 'row ' || " + _txt("r.row_no") + " || ': order ' || "
        "r.order_id || ' already has more refunded than the file says' AS message, "
        "r.refund_id AS order_id FROM imp_refunds r "
        "WHERE r.bad = 0 AND r.target = 'db' AND r.cumulative = 1 AND r.apply_cents < 0"
    )
    execute(
        "UPDATE imp_refunds SET apply_cents = amount_cents WHERE bad = 0 AND target = 'db' "
        "AND cumulative = 0"
    )
    # Never more than the order: what the ledger has plus what this file adds.
    _error_insert(
        "SELECT r.row_no AS row_no, r.col AS col, " + _txt("r.amount_cents") + " AS value, "
        "'refund_exceeds_order' AS code, 'row ' || " + _txt("r.row_no") + " || ': refunds of "
        "order ' || r.order_id || ' would add up to more than the order' AS message, "
        "r.refund_id AS order_id FROM imp_refunds r JOIN loyalty_order l "
        "ON l.order_id = r.order_id WHERE r.bad = 0 AND r.present = 0 AND r.target = 'db' "
        "AND r.apply_cents > 0 AND "
        + _cents("COALESCE(l.eligible_total, l.total)")
        + " < "
        + _cents("l.refunded_total")
        + " + (SELECT SUM(x.apply_cents) FROM imp_refunds x WHERE x.order_id = r.order_id "
        "AND x.bad = 0 AND x.present = 0 AND x.target = 'db' AND x.apply_cents > 0)"
    )
    cascade()
    # An order being written carries its refunds' total: a refund of it left out (an error of
    # its own) would leave the order's refunded total unbacked, so the order goes with it.
    _error_insert(
        "SELECT o.row_no AS row_no, o.id_col AS col, o.order_id AS value, "
        "'order_rejected' AS code, 'row ' || " + _txt("o.row_no") + " || ': order ' || "
        "o.order_id || ' is rejected because one of its refunds is' AS message, "
        "o.order_id AS order_id FROM imp_orders o WHERE o.bad = 0 AND o.present = 0 AND "
        "o.order_id IN (SELECT r.order_id FROM imp_refunds r WHERE r.bad = 1)"
    )
    cascade()


def _cents(expr: str) -> str:
    """A money column as integer cents, the same on PostgreSQL and SQLite."""
    return f"CAST(ROUND({expr} * 100) AS BIGINT)"


def cascade() -> None:
    """An error on any row of an order rejects the order, its other rows and its refunds."""
    execute(
        "UPDATE imp_orders SET bad = 1 WHERE bad <> 1 AND order_id IN "
        "(SELECT order_id FROM imp_errors WHERE order_id IS NOT NULL)"
    )
    execute(
        "UPDATE imp_refunds SET bad = 1 WHERE bad <> 1 AND (refund_id IN "
        "(SELECT order_id FROM imp_errors WHERE order_id IS NOT NULL) OR order_id IN "
        "(SELECT order_id FROM imp_errors WHERE order_id IS NOT NULL))"
    )


def rejected_rows_report(order_column: str) -> None:
    """Every row left out because another row of its order failed, with the reason."""
    _error_insert(
        "SELECT o.row_no AS row_no, o.id_col AS col, o.order_id AS value, "
        "'order_rejected' AS code, 'row ' || " + _txt("o.row_no") + " || ': order ' || "
        "o.order_id || ' is rejected because of an error in another of its rows' AS message, "
        "o.order_id AS order_id FROM imp_orders o WHERE o.bad = 1 AND NOT EXISTS "
        "(SELECT 1 FROM imp_errors e WHERE e.row_no = o.row_no)"
    )
    _error_insert(
        "SELECT r.row_no AS row_no, %s AS col, r.order_id AS value, 'order_rejected' AS code, "
        "'row ' || " + _txt("r.row_no") + " || ': order ' || r.order_id || "
        "' is rejected because of an error in another of its rows' AS message, "
        "r.order_id AS order_id FROM imp_rows r WHERE r.order_id IN "
        "(SELECT order_id FROM imp_errors WHERE order_id IS NOT NULL) AND NOT EXISTS "
        "(SELECT 1 FROM imp_errors e WHERE e.row_no = r.row_no)",
        [order_column],
    )
    _error_insert(
        "SELECT r.row_no AS row_no, r.col AS col, r.refund_id AS value, 'order_rejected' AS "
        "code, 'row ' || " + _txt("r.row_no") + " || ': the refund of order ' || r.order_id || "
        "' is left out because the order is rejected' AS message, r.order_id AS order_id "
        "FROM imp_refunds r WHERE r.bad = 1 AND NOT EXISTS "
        "(SELECT 1 FROM imp_errors e WHERE e.row_no = r.row_no)"
    )
