from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_default_templates(sender, apps=None, **kwargs) -> None:
    # `migrate` sends post_migrate for every app even when it stopped short of this one's
    # tables (`migrate members 0006`): install only once the migrated state has them.
    try:
        if apps is not None:
            apps.get_model("messaging", "KindSetting")
    except LookupError:
        return
    from messaging.templates_admin import templates_install_defaults

    templates_install_defaults()


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Member messages")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from loyalty.hooks import register_daily_job_step, register_member_enrolled_listener
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber
        from messaging.builtin import register_builtin, welcome_on_enrol
        from messaging.daily import messages_daily
        from messaging.erasure import messages_scrub, messages_section
        from messaging.tracking import tracking_received

        register_builtin()
        register_daily_job_step("messages", messages_daily)
        register_member_enrolled_listener(welcome_on_enrol)
        register_erasure_scrubber(messages_scrub)
        register_export_section("messages", messages_section)
        # The shipped templates (EN, zh-Hans) exist once the tables do; never overwritten.
        post_migrate.connect(_install_default_templates, sender=self)
        # The ESP's bounce and complaint webhooks (django-anymail) arrive as this signal: it is
        # the library's interface, not one of our business rules.
        tracking.connect(tracking_received, dispatch_uid="messaging.tracking")
