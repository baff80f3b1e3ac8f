"""What each staff role may do with member feedback (see `members.roles` for the scheme).

Everyone who serves members reads feedback: marketing for the figures, customer service and
supervisors to follow up a detractor. Nobody edits or deletes it in the admin: it is what the
member said (an erasure blanks the comment through the service).
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: ["view_feedback"],
    CUSTOMER_SERVICE: ["view_feedback"],
    SUPERVISOR: ["view_feedback"],
    OPERATOR: [],
}

NO_ROLE = ["add_feedback", "change_feedback", "delete_feedback"]
