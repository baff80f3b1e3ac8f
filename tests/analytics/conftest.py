"""Analytics tests end with a clean ledger audit and record orders through the real service."""

from tests.loyalty.conftest import _ledger_audited, record_order, record_refund  # noqa: F401
