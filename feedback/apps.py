from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Member feedback")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from feedback.access import feedback_section
        from feedback.services import feedback_forget
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber

        def comments_scrub(*, erasure) -> int:
            # A comment is free text the member wrote: blanked whole, the score stays.
            return feedback_forget(member_id=erasure.member.pk)

        register_erasure_scrubber(comments_scrub)
        # The subject-access export carries the member's feedback.
        register_export_section("feedback", feedback_section)
