"""Third-party apps under names staff read in their language (the packages' own are English).

Only the app's `verbose_name` (the admin's section heading) changes: it is not part of any model
state, so no migration follows. The packages' model names they mark for translation are
translated through `config/django_strings.py`; the API key model's name is not marked and stays.
"""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.apps import RestFrameworkApiKeyConfig


class AxesConfig(AxesAppConfig):
    verbose_name = _("Admin logins")


class ApiKeysConfig(RestFrameworkApiKeyConfig):
    verbose_name = _("API keys")
