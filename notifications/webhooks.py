"""Webhook deliveries: built from outbox events, signed per Standard Webhooks, sent with
exponential backoff and jitter for at least WEBHOOK_RETRY_WINDOW, then marked failed.

Sending is driven by the due-time column `WebhookDelivery.next_attempt_at`, swept by Celery
beat (and nudged on commit). Each attempt is claimed with a conditional update that moves the
due time a lease ahead, so several senders never send one attempt twice and a crashed sender's
delivery simply comes due again. No lock is held while the network is called.
"""

import ipaddress
import json
import logging
import random
import socket
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from leads.models import LeadEvent
from notifications.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenancy.errors import DomainError

logger = logging.getLogger(__name__)

TEST_EVENT_TYPE = "webhook.test"
LEASE = timedelta(minutes=2)
BACKOFF_FIRST_S = 5
BACKOFF_MAX_S = 3600
EXCERPT = 500
_http = urllib3.PoolManager(
    timeout=urllib3.Timeout(connect=5.0, read=10.0), retries=False, maxsize=4, block=False
)


class TargetRefused(DomainError):
    code = "target_refused"


# --- targets ----------------------------------------------------------------------------------

def target_check(url: str) -> None:
    """Refuse URLs that point into our own network (SSRF), unless the setting allows them.

    Checked when an endpoint is saved and again before every attempt, since DNS can change.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(_("Use an http or https URL with a host name."))
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(_("The host name does not resolve.")) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise TargetRefused(
                _("Webhook targets on private, loopback or reserved addresses are refused.")
            )


# --- signing ----------------------------------------------------------------------------------

def secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    import base64
    import secrets

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signatures(*, endpoint: WebhookEndpoint, msg_id: str, timestamp: datetime,
               body: str) -> str:
    """`v1,<sig>` for the current secret, and for the previous one during its grace period
    (receivers that still hold it keep verifying)."""
    secrets_in_use = [endpoint.secret]
    if (endpoint.previous_secret and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > timezone.now()):
        secrets_in_use.append(endpoint.previous_secret)
    return " ".join(Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body)
                    for secret in secrets_in_use)


def event_type_for(event: LeadEvent) -> str:
    return f"lead.{event.kind}"


def event_payload(event: LeadEvent) -> dict:
    """The body every endpoint receives for an event: its id, type, time, and the lead as
    the API shows it (at dispatch time)."""
    from leads.api import LeadEventSerializer, LeadSerializer

    lead = (event.lead.__class__.objects
            .select_related("account", "account__owner", "partner", "stage", "duplicate_of")
            .get(pk=event.lead_id))
    return {
        "type": event_type_for(event),
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event": LeadEventSerializer(event).data,
            "lead": LeadSerializer(lead).data,
        },
    }


def delivery_for_event(*, endpoint: WebhookEndpoint, event: LeadEvent) -> WebhookDelivery | None:
    """An unsaved delivery of `event` to `endpoint`, or None if it does not subscribe."""
    event_type = event_type_for(event)
    if not endpoint.wants(event_type):
        return None
    return WebhookDelivery(
        tenant_id=endpoint.tenant_id, endpoint=endpoint, event=event, event_type=event_type,
        msg_id=f"evt_{event.pk}", payload=event_payload(event),
        next_attempt_at=timezone.now(),
    )


def test_delivery_create(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event to the endpoint (the "send a test event" button)."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id, endpoint=endpoint, event=None,
        event_type=TEST_EVENT_TYPE, msg_id=f"test_{uuid.uuid4().hex}", next_attempt_at=now,
        payload={"type": TEST_EVENT_TYPE, "timestamp": now.isoformat().replace("+00:00", "Z"),
                 "data": {"endpoint": str(endpoint.public_id)}},
    )
    deliveries_publish()
    return delivery


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (manual redeliver), whatever its state; same webhook-id."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), delivered_at=None
    )
    deliveries_publish()
    delivery.refresh_from_db()
    return delivery


# --- sending ----------------------------------------------------------------------------------

def backoff_seconds(attempts: int) -> float:
    """5 s, 10 s, 20 s ... capped at an hour, each with up to 20 % random jitter so that
    endpoints coming back do not get every retry in the same second."""
    base = min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)
    return base + random.uniform(0, base * 0.2)  # noqa: S311 - jitter, not cryptography


def webhook_deliveries_send(*, limit: int = 20, now=None) -> int:
    """One sweep: send due deliveries; returns how many attempts were made.

    Steps: pick due pending rows; claim each by moving its due time a lease ahead (0 rows
    changed: another sender has it); POST it signed, outside any transaction; log the attempt;
    mark delivered, schedule the next try with backoff, or give up after the retry window;
    keep the endpoint's health (disable it after failing for WEBHOOK_DISABLE_AFTER).
    """
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at").values_list("pk", "next_attempt_at")[:limit])
    attempts = 0
    for pk, due_at in due:
        if not WebhookDelivery.objects.filter(
            pk=pk, status=DeliveryStatus.PENDING, next_attempt_at=due_at
        ).update(next_attempt_at=timezone.now() + LEASE):
            continue
        delivery = WebhookDelivery.objects.select_related("endpoint", "tenant").get(pk=pk)
        if not delivery.endpoint.is_active:
            WebhookDelivery.objects.filter(pk=pk).update(status=DeliveryStatus.FAILED,
                                                         next_attempt_at=None)
            continue
        _attempt(delivery)
        attempts += 1
    return attempts


def _attempt(delivery: WebhookDelivery) -> None:
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    sent_at = timezone.now()
    status_code, excerpt, error = None, "", ""
    started = time.monotonic()
    try:
        target_check(endpoint.url)
        response = _http.request(
            "POST", endpoint.url, body=body.encode(), redirect=False,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Leadshare-Webhooks/1",
                "webhook-id": delivery.msg_id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signatures(endpoint=endpoint, msg_id=delivery.msg_id,
                                                timestamp=sent_at, body=body),
            },
            preload_content=False,
        )
        try:
            status_code = response.status
            excerpt = response.read(EXCERPT, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
    except TargetRefused as refused:
        error = refused.message
    except Exception as failure:  # noqa: BLE001 - any network failure is one failed attempt
        error = f"{type(failure).__name__}: {failure}"[:300]
    latency_ms = int((time.monotonic() - started) * 1000)
    _attempt_record(delivery, sent_at=sent_at, status_code=status_code, excerpt=excerpt,
                    error=error, latency_ms=latency_ms)


def _attempt_record(delivery, *, sent_at, status_code, excerpt, error, latency_ms) -> None:
    ok = status_code is not None and 200 <= status_code < 300
    number = delivery.attempts + 1
    now = timezone.now()
    window_over = now - delivery.created_at >= settings.WEBHOOK_RETRY_WINDOW
    if ok:
        status, next_at = DeliveryStatus.DELIVERED, None
    elif window_over:
        status, next_at = DeliveryStatus.FAILED, None
    else:
        status, next_at = DeliveryStatus.PENDING, now + timedelta(seconds=backoff_seconds(number))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            tenant_id=delivery.tenant_id, delivery=delivery, number=number,
            attempted_at=sent_at, status_code=status_code, latency_ms=latency_ms,
            response_excerpt=excerpt[:EXCERPT], error=error[:300], next_attempt_at=next_at,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=number, status=status, next_attempt_at=next_at,
            last_status_code=status_code, delivered_at=now if ok else None,
        )
        _endpoint_health(delivery.endpoint, ok=ok, now=now)


def _endpoint_health(endpoint: WebhookEndpoint, *, ok: bool, now) -> None:
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
            failing_since=None)
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now)
    cutoff = now - settings.WEBHOOK_DISABLE_AFTER
    if WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True,
                                      failing_since__lte=cutoff).update(
            is_active=False, disabled_at=now,
            disabled_reason="failing for 24 hours"):
        _endpoint_disabled_notify(endpoint)


def _endpoint_disabled_notify(endpoint: WebhookEndpoint) -> None:
    from notifications.models import NotificationKind
    from notifications.services import _managers, notification_create

    for user in _managers(endpoint.tenant_id):
        notification_create(
            tenant=endpoint.tenant, recipient=user, kind=NotificationKind.WEBHOOK_DISABLED,
            link=f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/",
            dedupe_key=f"webhook_disabled:{endpoint.pk}:{timezone.now():%Y%m%d%H%M}",
            extra={"url": endpoint.url},
        )


def deliveries_publish() -> None:
    def publish():
        from notifications.tasks import webhook_deliveries_send_task

        try:
            webhook_deliveries_send_task.apply_async(retry=False)
        except Exception:  # noqa: BLE001 - the periodic sweep sends later
            logger.warning("webhook publish failed; the periodic sweep will send",
                           exc_info=True)

    transaction.on_commit(publish)
