"""What each staff role may do with member messages (see `members.roles` for the scheme).

Marketing writes the templates (and sends itself a test) and switches kinds on and off with
their timing. Customer service and supervisors read the log and the opt-outs to answer "why did
I (not) get this?"; Operators read the log and the suppressed addresses (deliverability). Nobody
edits the log, an opt-out (the member's own decision, through the link) or a suppression (the
provider's bounce or complaint); kind settings exist one per kind and are never added by hand.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [
        "view_messagetemplate",
        "add_messagetemplate",
        "change_messagetemplate",
        "view_kindsetting",
        "change_kindsetting",
        "view_messagelog",
        "view_optout",
        "view_suppression",
    ],
    CUSTOMER_SERVICE: ["view_messagetemplate", "view_messagelog", "view_optout"],
    SUPERVISOR: ["view_messagetemplate", "view_messagelog", "view_optout", "view_suppression"],
    OPERATOR: ["view_messagelog", "view_suppression"],
}

NO_ROLE = [
    "delete_messagetemplate",
    "add_messagelog",
    "change_messagelog",
    "delete_messagelog",
    "add_optout",
    "change_optout",
    "delete_optout",
    "add_suppression",
    "change_suppression",
    "delete_suppression",
    "add_kindsetting",
    "delete_kindsetting",
]
