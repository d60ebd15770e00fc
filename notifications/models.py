"""In-app and email notifications, and webhook endpoints with their deliveries.

All of them are fed from the outbox: LeadEvent rows not yet dispatched (leads/models.py),
written in the same transaction as the change they record. Sending is driven by due-time
columns (`email_next_attempt_at`, `next_attempt_at`) that Celery beat sweeps.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenancy.models import TenantOwned


class NotificationKind(models.TextChoices):
    LEAD_HELD = "lead_held", _("A lead waits for recorded consent")
    LEAD_DUPLICATE = "lead_duplicate", _("A duplicate lead arrived")
    LEAD_WON = "lead_won", _("A lead was won")
    LEAD_LOST = "lead_lost", _("A lead was lost")
    WEBHOOK_DISABLED = "webhook_disabled", _("A webhook endpoint was disabled")
    LEAD_OFFERED = "lead_offered", _("A lead is offered to my partner")
    LEAD_UNASSIGNED = "lead_unassigned", _("A lead found no eligible partner")
    LEAD_IN_REVIEW = "lead_in_review", _("A lead waits for pre-qualification")
    LEAD_CONFLICT = "lead_conflict", _("A partner registration conflicts")
    LEAD_REMINDER = "lead_reminder", _("An offer to my partner still waits for an answer")
    SLA_ESCALATED = "sla_escalated", _("An offer passed an SLA step")
    EXPIRY_STREAK = "expiry_streak", _("A partner lets offers expire")
    LEAD_FOLLOWUP = "lead_followup", _("An accepted lead has had no activity")
    LEAD_STALLED = "lead_stalled", _("An accepted lead of a partner has stalled")


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Not sent (turned off)")
    FAILED = "failed", _("Failed")


class Notification(TenantOwned):
    """One message to one person. At most one per (recipient, dedupe key), whatever retries
    or parallel dispatchers do: the unique constraint is the guarantee."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notifications")
    # Kept in the recipient's language at creation: the list shows what the email said.
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices,
                                    default=EmailStatus.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_next_attempt_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"],
                                    name="notification_public_id"),
            models.UniqueConstraint(fields=["tenant", "recipient", "dedupe_key"],
                                    name="notification_once_per_key"),
        ]
        indexes = [
            # The header's unread count: WHERE recipient = ? AND tenant = ? AND read_at IS NULL
            models.Index(fields=["recipient", "tenant"], name="notification_unread",
                         condition=models.Q(read_at__isnull=True)),
            # The email sweeper: WHERE email_status = 'pending' AND email_next_attempt_at <= now
            models.Index(fields=["email_next_attempt_at"], name="notification_email_due",
                         condition=models.Q(email_status="pending")),
        ]

    def __str__(self) -> str:
        return self.text


class NotificationPreference(models.Model):
    """A person's choice per kind: email off (in-app notifications always stay on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_preferences")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    email = models.BooleanField(_("send email"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="preference_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'email' if self.email else 'no email'}"


class WebhookEndpoint(TenantOwned):
    """Where the vendor's CRM receives signed events (Standard Webhooks)."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Empty: every event type.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret signs too, until previous_secret_expires_at.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="webhook_public_id"),
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TenantOwned):
    """One event for one endpoint, retried with backoff until delivered or given up."""

    public_id = models.UUIDField(default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    event = models.ForeignKey("leads.LeadEvent", on_delete=models.CASCADE, null=True,
                              blank=True, related_name="deliveries")
    event_type = models.CharField(max_length=50)
    # The `webhook-id` header: the same for every attempt, so receivers can drop repeats.
    msg_id = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "public_id"], name="delivery_public_id"),
            # One delivery per event and endpoint: a dispatcher retried after a crash adds none.
            models.UniqueConstraint(fields=["tenant", "endpoint", "msg_id"],
                                    name="delivery_once_per_endpoint"),
        ]
        indexes = [
            # The sender: WHERE status = 'pending' AND next_attempt_at <= now ORDER BY it
            models.Index(fields=["next_attempt_at"], name="delivery_due",
                         condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"


class WebhookAttempt(TenantOwned):
    """One HTTP try of a delivery: the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"#{self.number}: {self.status_code or self.error}"
