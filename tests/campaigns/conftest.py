"""Campaign tests end with a clean ledger audit too, and record orders through the real service.

They also end with the budgets' audit: every budgeted campaign's stripes add up to its budget and
to its awards (`campaigns.selectors.campaign_budgets_audit`).
"""

import pytest

from campaigns.selectors import campaign_budgets_audit
from tests.loyalty.conftest import _ledger_audited, record_order, record_refund  # noqa: F401


@pytest.fixture(autouse=True)
def _budgets_audited(request, _ledger_audited):  # noqa: F811 (the fixture, used by name)
    """After each scenario that touched the database, the budget stripes are consistent."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames) or marker
    yield
    if uses_db:
        assert campaign_budgets_audit() == [], "budget stripes do not add up"
