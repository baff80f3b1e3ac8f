from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """The evaluation of the program: the dashboard and the figures it is built from.

    The top business app below `webhooks`: it reads every app (members, loyalty, memberships,
    feedback, rewards, campaigns, messaging) and nothing but `webhooks` may import it.
    """

    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"
