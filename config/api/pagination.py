"""Page-number pagination: `?page=`, `page_size` up to 200; `count, next, previous, results`."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
