from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Member feedback")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from feedback.access import feedback_scrub, feedback_section
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber

        # An erased member's comments are blanked; the export carries their feedback.
        register_erasure_scrubber(feedback_scrub)
        register_export_section("feedback", feedback_section)
