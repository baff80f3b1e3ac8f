"""Storefront authentication: `Authorization: Api-Key <key>`, hashed and revocable keys."""

from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import BaseHasAPIKey

from config.prepared import PreparedQuery

# Every API request looks its key up: compiled to SQL once (`config.prepared`), read afresh each
# time, so a key revoked or expired is refused from the next request on. The same rows as the
# library's `APIKey.objects.get_from_key` (usable keys, by their unique prefix).
_usable_key_by_prefix = PreparedQuery(
    lambda prefix: APIKey.objects.get_usable_keys().filter(prefix=prefix), prefix=str
)


class HasStorefrontApiKey(BaseHasAPIKey):
    """Grants access to a request carrying a valid, unrevoked, unexpired API key.

    The key found is cached on the request (`request.api_key`) so views can record it as the actor.
    """

    model = APIKey

    def get_key(self, request) -> str | None:
        # Only `Authorization: Api-Key <key>`, whatever API_KEY_CUSTOM_HEADER may say: that setting
        # would make the library read the whole header value, "Api-Key " included, as the key.
        return self.key_parser.get_from_authorization(request)

    def has_permission(self, request, view) -> bool:
        key = self.get_key(request)
        if not key:
            return False
        prefix, _, _ = key.partition(".")
        api_key = _usable_key_by_prefix.first(prefix=prefix)
        # `is_valid` checks the secret against the stored hash (sha512 for keys made here).
        if api_key is None or not api_key.is_valid(key) or api_key.has_expired:
            return False
        request.api_key = api_key
        return True
