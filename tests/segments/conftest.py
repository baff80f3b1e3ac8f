"""Segments fixtures: the ledger is audited after each test (loyalty's fixture), orders go
through the real services (`record_order`, `record_refund`)."""

from tests.loyalty.conftest import (  # noqa: F401  (shared fixtures)
    _ledger_audited,
    record_order,
    record_refund,
)
