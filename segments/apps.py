from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loyalty import hooks
        from loyalty.config_sections import register_section
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber
        from segments.access import segments_section, stats_scrub
        from segments.selectors.clubs import member_clubs
        from segments.services.segments import segments_count_daily
        from segments.services.stats import stats_daily_step

        # The statistics and RFM scores are refreshed set-based once a day (never on the earn
        # path: docs/segments.md, "Why a daily refresh").
        hooks.register_daily_job_step("member_statistics", stats_daily_step)
        # Then every segment's count, on the fresh statistics.
        hooks.register_daily_job_step("segment_counts", segments_count_daily)
        # The member summary's `clubs`: the member's clubs and their perks.
        hooks.register_member_summary_part("clubs", member_clubs)
        # The subject-access export: the member's statistics, RFM group and clubs.
        register_export_section("segments", segments_section)
        # The `segments` and `clubs` sections of `manage.py program_config`.
        from segments import config

        register_section(
            "segments",
            exporter=config.segments_export,
            validator=config.segments_validate,
            applier=config.segments_apply,
        )
        register_section(
            "clubs",
            exporter=config.clubs_export,
            validator=config.clubs_validate,
            applier=config.clubs_apply,
        )
        # Erasure blanks the statistics' copy of the member's country at once.
        register_erasure_scrubber(stats_scrub)
