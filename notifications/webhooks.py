"""Webhook deliveries: built from outbox events, signed per Standard Webhooks, sent with
exponential backoff and jitter for at least WEBHOOK_RETRY_WINDOW, then marked failed.

Sending is driven by the due-time column `WebhookDelivery.next_attempt_at`, swept by Celery
beat (and nudged on commit). Each attempt is claimed with a conditional update that moves the
due time a lease ahead, so several senders never send one attempt twice and a crashed sender's
delivery simply comes due again. No lock is held while the network is called.

Endpoints are managed here too (create, update, rotate the secret, deactivate): each change is
one transaction with an AuditEntry, and the secret is returned only by create and rotate.
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
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection

from leads.models import LeadEvent, LeadEventKind
from notifications.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.models import Tenant
from tenancy.services import audit_record

logger = logging.getLogger(__name__)

TEST_EVENT_TYPE = "webhook.test"
# What an endpoint can subscribe to: one type per kind of lead event, and the test event.
EVENT_TYPES = (*(f"lead.{kind}" for kind in LeadEventKind.values), TEST_EVENT_TYPE)
URL_MAX_LENGTH = WebhookEndpoint._meta.get_field("url").max_length
LEASE = timedelta(minutes=2)
BACKOFF_FIRST_S = 5
BACKOFF_MAX_S = 3600
EXCERPT = 500
# NAT64 (RFC 6052): 64:ff9b::a.b.c.d reaches the IPv4 address a.b.c.d through a gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(DomainError):
    code = "target_refused"


class UnknownEventType(DomainError):
    code = "unknown_event_type"


class EndpointInactive(DomainError):
    code = "endpoint_inactive"


# --- targets ----------------------------------------------------------------------------------

def _address_refused(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 is judged as the IPv4 address it reaches.
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return not address.is_global or address.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (one place, so tests can play a lying DNS server)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _public_addresses(host: str, port: int) -> list[str]:
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise TargetRefused(_("The host name does not resolve.")) from None
    if not addresses or any(_address_refused(address) for address in addresses):
        raise TargetRefused(
            _("Webhook targets on private, loopback or reserved addresses are refused.")
        )
    return addresses


def target_check(url: str) -> None:
    """Refuse URLs that point into our own network (SSRF), unless the setting allows them.

    Checked when an endpoint is saved and again before every attempt, since DNS can change;
    the connection itself then goes only to an address it checked (`_CheckedConnectionMixin`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range raises here
    except ValueError:
        raise TargetRefused(_("Use an http or https URL with a host name.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(_("Use an http or https URL with a host name."))
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    _public_addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80))


class _CheckedConnectionMixin:
    """Connects only to an address it has just checked.

    Checking a host name and then letting the HTTP client resolve it again leaves a gap: a
    DNS server can answer with a public address to the check and with 127.0.0.1 to the
    connection (DNS rebinding). Here the connection resolves once, checks every address, and
    connects to the first; TLS still verifies the certificate against the host name.
    """

    def _new_conn(self):
        if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
            return super()._new_conn()
        host_name = self._dns_host
        self._dns_host = _public_addresses(host_name, self.port)[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = host_name  # the Host header, SNI and certificate check use it


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


_http = urllib3.PoolManager(
    timeout=urllib3.Timeout(connect=5.0, read=10.0), retries=False, maxsize=4, block=False
)
_http.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


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


# --- endpoints --------------------------------------------------------------------------------

ENDPOINT_FIELDS = ("url", "description", "event_types", "is_active")


def endpoint_url_check(url: str) -> None:
    """A well-formed http(s) URL that fits the column, on an address we may call."""
    try:
        if len(url) > URL_MAX_LENGTH:
            raise DjangoValidationError("too long")
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise TargetRefused(
            _("Enter a valid http or https URL of at most %(max)d characters.")
            % {"max": URL_MAX_LENGTH}, code="invalid_url",
        ) from None
    target_check(url)


def event_types_clean(event_types: list[str]) -> list[str]:
    """The subscribed types, each known, without repeats, in a stable order; [] means all."""
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise UnknownEventType(
            _("Unknown event type(s): %(types)s. Known: %(known)s.")
            % {"types": ", ".join(map(str, unknown)), "known": ", ".join(EVENT_TYPES)}
        )
    return sorted(set(event_types))


def _endpoint_summary(endpoint: WebhookEndpoint) -> dict:
    """What the audit log keeps of an endpoint: never its secrets."""
    return {"url": endpoint.url, "description": endpoint.description,
            "event_types": list(endpoint.event_types), "is_active": endpoint.is_active}


def _audit(*, target, tenant: Tenant, actor: Actor, action: str, before=None,
           after=None) -> None:
    audit_record(tenant=tenant, actor=actor.user, actor_label=actor.label, action=action,
                 target=target, before=before, after=after)


def _deactivated(endpoint: WebhookEndpoint, *, now, actor: Actor) -> None:
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = f"deactivated by {actor.label}"[:200]


def _reactivated(endpoint: WebhookEndpoint) -> None:
    # A fresh start: the disable clock restarts with the next failure.
    endpoint.is_active = True
    endpoint.failing_since = None
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""


def webhook_endpoint_create(
    *, tenant: Tenant, url: str, event_types: list[str], description: str = "", actor: Actor
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned here and by a rotation only)."""
    endpoint_url_check(url)  # resolves the host name: before the transaction, not inside it
    event_types = event_types_clean(event_types)
    secret = secret_new()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant, url=url, description=description, event_types=event_types,
            secret=secret,
        )
        _audit(target=endpoint, tenant=tenant, actor=actor, action="webhook_endpoint.create",
               after=_endpoint_summary(endpoint))
    return endpoint, secret


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, changes: dict, actor: Actor
) -> WebhookEndpoint:
    """Change url, description, event_types or is_active.

    Re-activating clears the failure state (failing_since, disabled_at), so an endpoint that
    was disabled for failing gets a whole new retry window; a new URL does the same for the
    failure clock, since the old address's failures say nothing about the new one.
    """
    unknown = set(changes) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValueError(f"not an endpoint field: {sorted(unknown)}")
    changes = dict(changes)
    if "url" in changes:
        endpoint_url_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = event_types_clean(changes["event_types"])
    now = timezone.now()
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().select_related("tenant").get(
            pk=endpoint.pk)
        before = _endpoint_summary(current)
        for field in ("url", "description", "event_types"):
            if field in changes:
                setattr(current, field, changes[field])
        if changes.get("is_active") is True and not current.is_active:
            _reactivated(current)
        elif changes.get("is_active") is False and current.is_active:
            _deactivated(current, now=now, actor=actor)
        if current.url != before["url"]:
            current.failing_since = None
        after = _endpoint_summary(current)
        if after != before:
            current.updated_at = now
            current.save()
            _audit(target=current, tenant=current.tenant, actor=actor,
                   action="webhook_endpoint.update",
                   before={k: v for k, v in before.items() if after[k] != v},
                   after={k: v for k, v in after.items() if before[k] != v})
    return current


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """A new signing secret; the current one keeps signing for WEBHOOK_SECRET_GRACE.

    Deliveries carry both signatures during the grace period, so the receiver can switch to
    the new secret whenever it likes. Rotating again during a grace period ends the older
    secret's grace at once: only one previous secret is kept.
    """
    secret = secret_new()
    now = timezone.now()
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().select_related("tenant").get(
            pk=endpoint.pk)
        current.previous_secret = current.secret
        current.previous_secret_expires_at = now + settings.WEBHOOK_SECRET_GRACE
        current.secret = secret
        current.updated_at = now
        current.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret",
                                    "updated_at"])
        _audit(target=current, tenant=current.tenant, actor=actor,
               action="webhook_endpoint.rotate_secret",
               after={"previous_secret_expires_at":
                      current.previous_secret_expires_at.isoformat()})
    endpoint.refresh_from_db()
    return secret


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """No new deliveries; pending ones fail when they come due. History stays; an update
    with `is_active: True` brings the endpoint back."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().select_related("tenant").get(
            pk=endpoint.pk)
        if not current.is_active:
            return current
        now = timezone.now()
        _deactivated(current, now=now, actor=actor)
        current.updated_at = now
        current.save(update_fields=["is_active", "disabled_at", "disabled_reason",
                                    "updated_at"])
        _audit(target=current, tenant=current.tenant, actor=actor,
               action="webhook_endpoint.deactivate",
               before={"is_active": True}, after={"is_active": False})
    return current


def _endpoint_active_check(endpoint: WebhookEndpoint) -> None:
    # An inactive endpoint's deliveries are failed unsent by the sweeper: refuse up front
    # instead of queueing something that can only fail silently.
    if not endpoint.is_active:
        raise EndpointInactive(
            _("The webhook endpoint is inactive; re-activate it first.")
        )


# --- deliveries -------------------------------------------------------------------------------

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


def delivery_for_event(
    *, endpoint: WebhookEndpoint, event: LeadEvent, payloads: dict | None = None
) -> WebhookDelivery | None:
    """An unsaved delivery of `event` to `endpoint`, or None if it does not subscribe.

    `payloads` caches the body per event across endpoints: it is the same for all of them.
    """
    event_type = event_type_for(event)
    if not endpoint.wants(event_type):
        return None
    if payloads is None:
        payloads = {}
    if event.pk not in payloads:
        payloads[event.pk] = event_payload(event)
    return WebhookDelivery(
        tenant_id=endpoint.tenant_id, endpoint=endpoint, event=event, event_type=event_type,
        msg_id=f"evt_{event.pk}", payload=payloads[event.pk],
        next_attempt_at=timezone.now(),
    )


def test_delivery_create(*, endpoint: WebhookEndpoint, actor: Actor = SYSTEM) -> WebhookDelivery:
    """Queue a `webhook.test` event to the endpoint (the "send a test event" button)."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_related("tenant").get(pk=endpoint.pk)
        _endpoint_active_check(endpoint)
        delivery = WebhookDelivery.objects.create(
            tenant_id=endpoint.tenant_id, endpoint=endpoint, event=None,
            event_type=TEST_EVENT_TYPE, msg_id=f"test_{uuid.uuid4().hex}", next_attempt_at=now,
            payload={"type": TEST_EVENT_TYPE,
                     "timestamp": now.isoformat().replace("+00:00", "Z"),
                     "data": {"endpoint": str(endpoint.public_id)}},
        )
        _audit(target=endpoint, tenant=endpoint.tenant, actor=actor,
               action="webhook_endpoint.test", after={"delivery": str(delivery.public_id)})
    deliveries_publish()
    return delivery


def delivery_redeliver(*, delivery: WebhookDelivery, actor: Actor = SYSTEM) -> WebhookDelivery:
    """Send a delivery again now (manual redeliver), whatever its state; same webhook-id.

    One more try: inside the retry window a failure is retried as usual; after it, a failed
    try leaves the delivery failed again.
    """
    with transaction.atomic():
        current = WebhookDelivery.objects.select_related("endpoint", "tenant").get(
            pk=delivery.pk)
        _endpoint_active_check(current.endpoint)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), delivered_at=None
        )
        _audit(target=current, tenant=current.tenant, actor=actor,
               action="webhook_delivery.redeliver",
               before={"status": current.status}, after={"status": DeliveryStatus.PENDING})
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
            if not response.isclosed():
                # Body left unread: pooled, the connection would hand its rest to the next
                # request as that request's answer (ResponseNotReady), so drop it instead.
                response.close()
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
    now = timezone.now()
    window_over = now - delivery.created_at >= settings.WEBHOOK_RETRY_WINDOW
    with transaction.atomic():
        # Numbered from the row, locked: a redeliver during an attempt can let a second
        # sender try the same delivery at once, and both must not log attempt n.
        number = WebhookDelivery.objects.select_for_update().values_list(
            "attempts", flat=True).get(pk=delivery.pk) + 1
        if ok:
            status, next_at = DeliveryStatus.DELIVERED, None
        elif window_over:
            status, next_at = DeliveryStatus.FAILED, None
        else:
            status = DeliveryStatus.PENDING
            next_at = now + timedelta(seconds=backoff_seconds(number))
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
    from notifications.services import notification_create, tenant_managers

    for user in tenant_managers(endpoint.tenant_id):
        notification_create(
            tenant=endpoint.tenant, recipient=user, kind=NotificationKind.WEBHOOK_DISABLED,
            link=f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/",
            dedupe_key=f"webhook_disabled:{endpoint.pk}:{timezone.now():%Y%m%d%H%M}",
            extra={"url": endpoint.url},
        )


def deliveries_publish() -> None:
    from notifications.services import task_send_now

    transaction.on_commit(lambda: task_send_now(
        "webhook_deliveries_send_task", "webhook publish failed; the periodic sweep will send"))
