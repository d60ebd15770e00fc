"""Django admin for webhook endpoints and deliveries. Every change goes through the services
in notifications/webhooks.py (so it is validated and audited); a secret is shown once, in a
message, when it is made."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from notifications import webhooks
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from partners.admin import TenantOwnedAdmin
from tenancy.actors import Actor
from tenancy.admin import ReadOnlyAdminMixin
from tenancy.errors import DomainError


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=webhooks.URL_MAX_LENGTH,
                         assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"), choices=[(t, t) for t in webhooks.EVENT_TYPES], required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every event type."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "description", "event_types", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if "url" in self.changed_data:
            try:
                webhooks.endpoint_url_check(url)
            except DomainError as error:
                raise forms.ValidationError(error.message) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantOwnedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "tenant", "is_active", "failing_since", "disabled_at", "created_at"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["public_id", "failing_since", "disabled_at", "disabled_reason",
                       "previous_secret_expires_at", "created_at", "updated_at"]
    actions = ["send_test_event", "rotate_secret", "deactivate"]

    def get_fields(self, request, obj=None):
        if obj is None:  # a new endpoint starts active
            return ["tenant", "url", "description", "event_types"]
        return ["tenant", "url", "description", "event_types", "is_active",
                *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: the delivery log and the audit trail stay.
        return False

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        data = form.cleaned_data
        if change:
            changes = {field: data[field] for field in webhooks.ENDPOINT_FIELDS
                       if field in form.changed_data}
            if changes:
                webhooks.webhook_endpoint_update(endpoint=obj, changes=changes, actor=actor)
            return
        endpoint, secret = webhooks.webhook_endpoint_create(
            tenant=data["tenant"], url=data["url"], description=data["description"],
            event_types=data["event_types"], actor=actor,
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            _("The signing secret, shown only now — copy it into the receiver: %(secret)s")
            % {"secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Send a test event"))
    def send_test_event(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            try:
                webhooks.test_delivery_create(endpoint=endpoint,
                                              actor=Actor.for_user(request.user))
                sent += 1
            except DomainError as error:
                self.message_user(request, f"{endpoint}: {error.message}", messages.WARNING)
        self.message_user(request, _("%(count)d test event(s) queued.") % {"count": sent})

    @admin.action(description=_("Rotate the signing secret"))
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = webhooks.webhook_endpoint_rotate_secret(
                endpoint=endpoint, actor=Actor.for_user(request.user))
            self.message_user(
                request,
                _("New signing secret of %(url)s, shown only now (the old one keeps signing "
                  "until %(until)s): %(secret)s")
                % {"url": endpoint.url, "until": endpoint.previous_secret_expires_at,
                   "secret": secret},
                messages.WARNING,
            )

    @admin.action(description=_("Deactivate"))
    def deactivate(self, request, queryset):
        for endpoint in queryset:
            webhooks.webhook_endpoint_deactivate(endpoint=endpoint,
                                                 actor=Actor.for_user(request.user))
        self.message_user(request, _("%(count)d endpoint(s) deactivated.")
                          % {"count": len(queryset)})


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ["number", "attempted_at", "status_code", "latency_ms", "response_excerpt",
              "error", "next_attempt_at"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The delivery log, for support: readable, never editable; redeliver is the one action."""

    list_display = ["created_at", "event_type", "endpoint", "status", "attempts",
                    "last_status_code", "next_attempt_at", "tenant"]
    list_filter = ["tenant", "status", "event_type"]
    search_fields = ["msg_id", "endpoint__url"]
    list_select_related = ["endpoint", "tenant"]
    fields = ["public_id", "tenant", "endpoint", "event", "event_type", "msg_id", "status",
              "attempts", "last_status_code", "next_attempt_at", "created_at", "delivered_at",
              "payload"]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.action(description=_("Redeliver (same webhook-id)"))
    def redeliver(self, request, queryset):
        queued = 0
        for delivery in queryset:
            try:
                webhooks.delivery_redeliver(delivery=delivery,
                                            actor=Actor.for_user(request.user))
                queued += 1
            except DomainError as error:
                self.message_user(request, f"{delivery}: {error.message}", messages.WARNING)
        self.message_user(request, _("%(count)d delivery(ies) queued again.")
                          % {"count": queued})
