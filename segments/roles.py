"""What each staff role may do with segments, statistics and clubs (see `members.roles`).

Marketing builds segments and clubs and exports a segment's members. Awarding a segment points
is for the staff who may adjust points (customer service within their limits, beyond them held
for a supervisor; supervisors without limit): the award goes through the adjustment service, so
its limits and four-eyes rules apply per member. Customer service and supervisors read segments
(the member page shows the RFM group and clubs); Marketing, customer service and supervisors add
members to clubs and take them out (through the club services, audited). Statistics and refresh
runs are derived data: read-only for everyone who may read them; snapshot rows and award records
are written by services only.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [
        "view_memberstats",
        "view_segment",
        "add_segment",
        "change_segment",
        "delete_segment",
        "export_segment",
        "view_segmentaward",
        "view_club",
        "add_club",
        "change_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
        "view_statsrefresh",
    ],
    CUSTOMER_SERVICE: [
        "view_memberstats",
        "view_segment",
        "award_segment",
        "view_segmentaward",
        "view_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
    ],
    SUPERVISOR: [
        "view_memberstats",
        "view_segment",
        "award_segment",
        "view_segmentaward",
        "view_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
    ],
    OPERATOR: ["view_statsrefresh"],
}

NO_ROLE = [
    "add_memberstats",
    "change_memberstats",
    "delete_memberstats",
    "add_memberproduct",
    "change_memberproduct",
    "delete_memberproduct",
    "view_memberproduct",
    "add_segmentmember",
    "change_segmentmember",
    "delete_segmentmember",
    "view_segmentmember",
    "add_segmentaward",
    "change_segmentaward",
    "delete_segmentaward",
    "delete_club",
    "change_clubmembership",
    "add_statsrefresh",
    "change_statsrefresh",
    "delete_statsrefresh",
]
