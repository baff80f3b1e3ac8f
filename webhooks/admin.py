"""Admin for webhooks: endpoints (add, change, rotate the secret, send a test event, replay from
a time) and the delivery log (read-only; replay one delivery or a selection).

Thin callers: every write goes through `webhooks.services`. A secret is shown once, on the page
that answers the add or the rotation, and never again. A URL the SSRF guard refuses (bad shape,
credentials, a host that does not resolve or resolves to a private address) is an error on the
form's URL field; a host that refuses connections or times out shows in the delivery log of the
test event. Who may do what: `webhooks.roles` (Marketing and Operators manage endpoints).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from config.admin_tools import EstimatedCountPaginator, service_error_message
from config.errors import ServiceError
from loyalty.admin.base import action_page
from members.actors import Actor
from webhooks import selectors, services
from webhooks.models import Delivery, DeliveryAttempt, Endpoint


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("event types"),
        help_text=_("The event types sent to this endpoint; none ticked sends every type."),
    )

    class Meta:
        model = Endpoint
        fields = ("url", "description", "event_types", "active")
        widgets = {"url": forms.URLInput(attrs={"size": 80})}
        help_texts = {"url": _("Where events are POSTed: https://… on a public address.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = selectors.event_type_choices()

    def clean_url(self) -> str:
        try:
            return services.url_check(self.cleaned_data["url"])
        except ServiceError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        min_value=0,
        max_value=24 * 14,
        label=_("Old secret valid for (hours)"),
        help_text=_("Both secrets sign every message until then; 0 ends the old one now."),
    )


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label=_("Replay events since"),
        help_text=_(
            "Every event of this endpoint's types that occurred at or after this time "
            "(program time zone, YYYY-MM-DD HH:MM) is sent again."
        ),
    )


class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("__str__", "url", "active", "types", "disabled_reason", "failing_since")
    list_filter = ("active", "disabled_reason")
    search_fields = ("url", "description")
    list_select_related = ()
    readonly_fields = ("disabled_reason", "disabled_at", "failing_since", "created_at")
    change_form_template = "admin/webhooks/endpoint/change_form.html"

    @admin.display(description=_("event types"))
    def types(self, endpoint: Endpoint) -> str:
        return ", ".join(endpoint.event_types) or gettext("(all)")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_fields(self, request, obj=None):
        editable = ["url", "description", "event_types", "active"]
        return editable if obj is None else [*editable, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Create or change through the services; never `obj.save()`."""
        actor = Actor.staff(request.user)
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            endpoint = services.endpoint_update(
                endpoint=Endpoint.objects.get(pk=obj.pk), actor=actor, **data
            )
        else:
            endpoint, request._webhook_secret = services.endpoint_create(
                actor=actor,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                active=form.cleaned_data["active"],
            )
        obj.pk = endpoint.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_page(request, obj, request._webhook_secret, created=True)

    def _secret_page(self, request, endpoint, secret, *, created):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Signing secret of %(endpoint)s") % {"endpoint": endpoint},
            "endpoint": endpoint,
            "secret": secret,
            "created": created,
            "change_url": reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/webhooks/endpoint/secret.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            may_change = self.has_change_permission(request, obj)
            context["endpoint_tools"] = [
                (label, reverse(f"admin:webhooks_endpoint_{name}", args=[obj.pk]))
                for name, label in (
                    ("test", gettext("Send a test event")),
                    ("replay", gettext("Replay from a time")),
                    ("rotate", gettext("Rotate the secret")),
                )
                if may_change
            ] + [
                (
                    gettext("Delivery log"),
                    reverse("admin:webhooks_delivery_changelist")
                    + f"?endpoint__id__exact={obj.pk}",
                )
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:  # a race: the URL stopped resolving between check and save
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # --- staff operations -------------------------------------------------------------------

    def get_urls(self):
        views = (
            ("test", self.test_view),
            ("replay", self.replay_view),
            ("rotate", self.rotate_view),
        )
        return [
            *(
                path(
                    f"<path:object_id>/{name}/",
                    self.admin_site.admin_view(view),
                    name=f"webhooks_endpoint_{name}",
                )
                for name, view in views
            ),
            *super().get_urls(),
        ]

    def _endpoint(self, request, object_id) -> Endpoint:
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is None:
            raise PermissionDenied
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def _back(self, endpoint: Endpoint) -> str:
        return reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])

    def test_view(self, request, object_id):
        endpoint = self._endpoint(request, object_id)
        if request.method != "POST":
            return action_page(
                self,
                request,
                form=forms.Form(),
                title=gettext("Send a test event to %(endpoint)s") % {"endpoint": endpoint},
                intro=gettext(
                    "A webhook.test message is signed and sent to the endpoint now; its "
                    "answer shows in the delivery log."
                ),
                summary=[(gettext("URL"), endpoint.url)],
                back_url=self._back(endpoint),
                back_label=str(endpoint),
            )
        delivery = services.endpoint_send_test(endpoint=endpoint, actor=Actor.staff(request.user))
        delivery.refresh_from_db()
        self._report(request, delivery)
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))

    def _report(self, request, delivery: Delivery) -> None:
        if delivery.status == Delivery.Status.DELIVERED:
            self.message_user(
                request,
                gettext("Test event delivered: HTTP %(status)s in %(ms)s ms.")
                % {"status": delivery.last_status_code, "ms": delivery.last_latency_ms},
            )
        elif delivery.attempts:
            what = (
                f"HTTP {delivery.last_status_code}"
                if delivery.last_status_code
                else delivery.last_error
            )
            self.message_user(
                request,
                gettext("Test event not delivered: %(answer)s.") % {"answer": what},
                messages.ERROR,
            )
        else:
            self.message_user(
                request, gettext("Test event queued; refresh this page for its answer.")
            )

    def replay_view(self, request, object_id):
        endpoint = self._endpoint(request, object_id)
        form = ReplayForm(
            request.POST or None, initial={"since": timezone.now() - dt.timedelta(hours=1)}
        )
        if request.method == "POST" and form.is_valid():
            count = services.endpoint_replay_since(
                endpoint=endpoint, since=form.cleaned_data["since"], actor=Actor.staff(request.user)
            )
            if count >= services.REPLAY_LIMIT:
                told = gettext(
                    "%(count)s events queued for %(endpoint)s (the most one replay sends)."
                )
            else:
                told = gettext("%(count)s events queued for %(endpoint)s.")
            self.message_user(request, told % {"count": count, "endpoint": endpoint})
            return HttpResponseRedirect(
                reverse("admin:webhooks_delivery_changelist")
                + f"?endpoint__id__exact={endpoint.pk}&kind__exact=replay"
            )
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Replay events to %(endpoint)s") % {"endpoint": endpoint},
            back_url=self._back(endpoint),
            back_label=str(endpoint),
            status=400 if form.errors else 200,
        )

    def rotate_view(self, request, object_id):
        endpoint = self._endpoint(request, object_id)
        form = RotateForm(request.POST or None, initial={"overlap_hours": 24})
        if request.method == "POST" and form.is_valid():
            secret = services.endpoint_rotate_secret(
                endpoint=endpoint,
                actor=Actor.staff(request.user),
                overlap=dt.timedelta(hours=form.cleaned_data["overlap_hours"]),
            )
            return self._secret_page(request, endpoint, secret, created=False)
        return action_page(
            self,
            request,
            form=form,
            title=gettext("Rotate the secret of %(endpoint)s") % {"endpoint": endpoint},
            intro=gettext(
                "A new secret is made and shown once. Until the overlap ends every message is "
                "signed with both, so receivers can switch without losing a message."
            ),
            back_url=self._back(endpoint),
            back_label=str(endpoint),
            danger=True,
            status=400 if form.errors else 200,
        )


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "attempted_at", "status_code", "latency_ms", "error", "response")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "kind",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "error",
    )
    list_filter = ("status", "kind", "event_type", "endpoint")
    search_fields = ("event_id",)
    search_help_text = _("An event id (the webhook-id header).")
    list_select_related = ("endpoint",)
    sortable_by = ("created_at",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    inlines = [DeliveryAttemptInline]
    actions = ["replay_selected"]
    change_form_template = "admin/webhooks/delivery/change_form.html"
    fields = (
        "endpoint",
        "kind",
        "event_id",
        "event_type",
        "occurred_at",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "last_latency_ms",
        "last_response",
        "body",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=_("error"))
    def error(self, delivery: Delivery) -> str:
        return delivery.last_error[:80]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def may_replay(self, request) -> bool:
        return request.user.has_perm("webhooks.change_endpoint")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not self.may_replay(request):
            actions.pop("replay_selected", None)
        return actions

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(event_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.action(description=_("Replay the selected deliveries"))
    def replay_selected(self, request, queryset):
        actor = Actor.staff(request.user)
        replays = [services.delivery_replay(delivery=d, actor=actor) for d in queryset[:500]]
        self.message_user(
            request,
            ngettext(
                "%(count)s delivery queued again.",
                "%(count)s deliveries queued again.",
                len(replays),
            )
            % {"count": len(replays)},
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.may_replay(request):
            context["replay_url"] = reverse("admin:webhooks_delivery_replay", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="webhooks_delivery_replay",
            ),
            *super().get_urls(),
        ]

    def replay_view(self, request, object_id):
        delivery = self.get_object(request, unquote(object_id))
        if delivery is None or not self.may_replay(request):
            raise PermissionDenied
        if request.method != "POST":  # the change page's button posts; a GET changes nothing
            return HttpResponseNotAllowed(["POST"])
        replay = services.delivery_replay(delivery=delivery, actor=Actor.staff(request.user))
        self.message_user(
            request, gettext("Delivery queued again (delivery %(id)s).") % {"id": replay.pk}
        )
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[replay.pk]))


admin.site.register(Endpoint, EndpointAdmin)
admin.site.register(Delivery, DeliveryAdmin)
