"""What each staff role may do with webhooks (see `members.roles` for the scheme).

Marketing and Operators manage endpoints (add, change: which includes rotating the secret,
sending a test event and replaying deliveries) and read the delivery log. Nobody deletes an
endpoint in the admin (switch it off: its log stays); nobody sees or edits a secret after it was
shown once; the delivery log is written by the deliveries alone, the dispatcher's cursor by
the dispatcher.
"""

from __future__ import annotations

from members.roles import MARKETING, OPERATOR

_MANAGE = [
    "add_endpoint",
    "change_endpoint",
    "view_endpoint",
    "view_delivery",
    "view_deliveryattempt",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: _MANAGE,
    OPERATOR: _MANAGE,
}

NO_ROLE = [
    "delete_endpoint",
    *(
        f"{action}_{model}"
        for model in ("endpointsecret", "dispatchcursor")
        for action in ("add", "change", "delete", "view")
    ),
    *(
        f"{action}_{model}"
        for model in ("delivery", "deliveryattempt")
        for action in ("add", "change", "delete")
    ),
]
