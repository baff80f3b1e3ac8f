"""`python manage.py create_api_key NAME`: a new storefront API key, printed once.

The key goes to stdout alone (so `KEY=$(manage.py create_api_key shop)` works); the explanation
goes to stderr. Only a hash is stored: the key cannot be shown again. Revoke it in the admin
(API keys, superusers only).
"""

from django.core.management.base import BaseCommand, CommandError
from rest_framework_api_key.models import APIKey

NAME_MAX_LENGTH = APIKey._meta.get_field("name").max_length


class Command(BaseCommand):
    help = "Create a storefront API key and print it once (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'storefront-production'.")

    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name or len(name) > NAME_MAX_LENGTH:
            raise CommandError(f"NAME must be 1–{NAME_MAX_LENGTH} characters.")
        api_key, key = APIKey.objects.create_key(name=name)
        self.stderr.write(
            f'Created API key "{name}" (prefix {api_key.prefix}). Copy it now: it is stored '
            "hashed and cannot be shown again. Send it as `Authorization: Api-Key <key>`."
        )
        self.stdout.write(key)
