from tests.loyalty.conftest import record_order  # noqa: F401  (the order fixture, shared)
