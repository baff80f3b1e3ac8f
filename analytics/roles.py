"""What each staff role may do in the analytics app (see `members.roles` for the scheme).

The dashboard is read by every staff role through `members.view_member`; the app's own tables
(rollups) are derived data with no admin page and no model permissions, so nothing is granted here.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [],
    CUSTOMER_SERVICE: [],
    SUPERVISOR: [],
    OPERATOR: [],
}

NO_ROLE: list[str] = []
