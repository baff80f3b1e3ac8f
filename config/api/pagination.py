"""Page-number pagination: `?page=`, `page_size` up to 200; `count, next, previous, results`.

A `page_size` that is not a whole number from 1 is `400 validation_error` naming it (DRF's own
paginator silently served the default page size for one, as if the storefront had not asked);
above 200 it is served as 200 (docs/api.md, Pagination).
"""

import re

from django.utils.translation import gettext
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

_WHOLE = re.compile(r"[0-9]+")


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _WHOLE.fullmatch(raw) or int(raw) < 1:
            raise ValidationError({"page_size": [gettext("A whole number from 1 is required.")]})
        return min(int(raw), self.max_page_size)
