"""Routes of the events app's storefront API, included under `/api/v1/` by `config.api.urls`."""

from django.urls import path

from events.api import EventFeedApi

urlpatterns = [path("events", EventFeedApi.as_view(), name="api-events")]
