"""Storefront authentication: `Authorization: Api-Key <key>`, hashed and revocable keys."""

from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import BaseHasAPIKey


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
        try:
            api_key = self.model.objects.get_from_key(key)
        except self.model.DoesNotExist:
            return False
        if api_key.has_expired:
            return False
        request.api_key = api_key
        return True
