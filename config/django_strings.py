"""Strings of Django's admin and of packages we use that their own zh-Hans catalogs lack.

Marked here (never called) so `make messages` puts them in our catalog, which Django consults
before theirs (LOCALE_PATHS): the admin then has no English left in these places. Add a string
here when a Chinese admin page shows English that is not ours; remove it once the package
translates it.
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Error:"),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("In case you’ve forgotten, you are:"),
)

REST_FRAMEWORK_API_KEY = (
    gettext_noop("A free-form name for the API key. Need not be unique. 50 characters max."),
    gettext_noop(
        "If the API key is revoked, clients cannot use it anymore. (This cannot be undone.)"
    ),
    gettext_noop("Once API key expires, clients cannot use it anymore."),
)

# django-axes (the admin's login attempts) marks these but ships no zh-Hans catalog.
DJANGO_AXES = (
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
)
