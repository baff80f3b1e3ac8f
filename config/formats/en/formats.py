"""British English formats for the `en` language (see `config.formats`)."""

from django.conf.locale.en_GB.formats import *  # noqa: F403
