from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """The evaluation of the program: the dashboard and the figures it is built from.

    The top business app below `webhooks`: it reads every app (members, loyalty, memberships,
    feedback, rewards, campaigns) and nothing but `webhooks` may import it. It keeps its daily
    rollups fresh through loyalty's registries: a daily job step, and a listener on completed
    imports (which refreshes the past days an import wrote to).
    """

    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics.services.refresh import rollups_daily_step, rollups_import_listener
        from loyalty import hooks

        hooks.register_daily_job_step("analytics_rollups", rollups_daily_step)
        hooks.register_import_completed_listener(rollups_import_listener)
