from django.urls import path

from messaging.views import unsubscribe

urlpatterns = [
    path("unsubscribe/<str:token>/", unsubscribe, name="messaging-unsubscribe"),
]
