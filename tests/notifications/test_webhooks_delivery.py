"""Webhook deliveries against a real HTTP receiver on loopback: outages and backoff, the retry
window and disabling, secret rotation, redelivery, replay protection and SSRF at send time.

The outbox drain (`events_dispatch`) and the sender (`webhook_deliveries_send`) are called
directly, with time_machine moving the clock to each due time.
"""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from leads.models import LeadEvent
from leads.services import lead_create, lead_update
from notifications import webhooks
from notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationKind,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from notifications.services import events_dispatch
from tenancy.actors import Actor
from tenancy.roles import Role
from tests.factories import MembershipFactory, TenantFactory, api_key_for
from tests.notifications.conftest import ApiClient

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def endpoint_for(tenant, url, **fields) -> tuple[WebhookEndpoint, str]:
    return webhooks.webhook_endpoint_create(tenant=tenant, url=url, actor=Actor(),
                                            event_types=fields.get("event_types", []))


def send_until_settled(traveller, *, rounds: int = 200) -> int:
    """Move the clock to each next due time and sweep, until nothing is pending."""
    sweeps = 0
    for _ in range(rounds):
        due = (WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
               .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first())
        if due is None:
            return sweeps
        traveller.move_to(max(due, timezone.now()))
        webhooks.webhook_deliveries_send()
        sweeps += 1
    raise AssertionError("deliveries still pending")


def backoff_bounds(number: int) -> tuple[float, float]:
    base = min(webhooks.BACKOFF_FIRST_S * 2 ** (number - 1), webhooks.BACKOFF_MAX_S)
    return base, base * 1.2


def test_every_event_arrives_signed_after_the_receiver_was_down(hook_receiver):
    with time_machine.travel(START, tick=False) as traveller:
        tenant = TenantFactory()
        endpoint, secret = endpoint_for(tenant, hook_receiver.url)
        hook_receiver.down_until = START + timedelta(minutes=2)
        leads = [lead_create(tenant=tenant, actor=Actor(),
                             fields={"contact_email": f"buyer{n}@acme{n}.example"})
                 for n in range(3)]
        lead_update(lead=leads[0], changes={"contact_phone": "+49 89 1234567"}, actor=Actor())
        events = list(LeadEvent.objects.filter(tenant=tenant))
        assert events_dispatch() == len(events) >= 4
        assert WebhookDelivery.objects.count() == len(events)

        send_until_settled(traveller)

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    delivered = [r for r in hook_receiver.requests if r.status == 204]
    assert {r.webhook_id for r in delivered} == {f"evt_{e.pk}" for e in events}
    failed = [r for r in hook_receiver.requests if r.status == 503]
    assert failed, "the receiver was down: some attempts must have failed"
    for request in hook_receiver.requests:
        body = request.verify(secret)  # raises if the signature does not verify
        event = next(e for e in events if f"evt_{e.pk}" == request.webhook_id)
        assert body["type"] == f"lead.{event.kind}"
        assert body["data"]["event"]["id"] == event.pk
        assert body["data"]["lead"]["id"] == str(event.lead.public_id)
        assert request.headers["content-type"] == "application/json"
    for delivery in WebhookDelivery.objects.all():
        log = list(delivery.attempt_log.order_by("number"))
        assert [a.number for a in log] == list(range(1, len(log) + 1))
        assert [a.status_code for a in log] == [503] * (len(log) - 1) + [204]
        assert delivery.attempts == len(log) > 1
        for attempt in log[:-1]:
            assert attempt.response_excerpt == "Service Unavailable"
            low, high = backoff_bounds(attempt.number)
            wait = (attempt.next_attempt_at - attempt.attempted_at).total_seconds()
            assert low <= wait <= high, (attempt.number, wait)
        assert log[-1].next_attempt_at is None
        assert log[-1].attempted_at >= hook_receiver.down_until
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is None


def test_after_24_hours_of_failures_the_delivery_fails_and_the_endpoint_is_disabled(
    hook_receiver,
):
    hook_receiver.status = 500
    hook_receiver.body = b"Internal Server Error"
    with time_machine.travel(START, tick=False) as traveller:
        tenant = TenantFactory()
        owner = MembershipFactory(tenant=tenant, role=Role.OWNER)
        manager = MembershipFactory(tenant=tenant, role=Role.CHANNEL_MANAGER)
        MembershipFactory(tenant=tenant, role=Role.ANALYST)
        MembershipFactory(tenant=TenantFactory(), role=Role.OWNER)  # another vendor's owner
        endpoint, _secret = endpoint_for(tenant, hook_receiver.url)
        lead = lead_create(tenant=tenant, actor=Actor(),
                           fields={"contact_email": "buyer@acme.example",
                                   "consent_basis": "legitimate_interest"})
        events_dispatch()
        delivery = WebhookDelivery.objects.get()

        send_until_settled(traveller)

        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
        log = list(delivery.attempt_log.order_by("number"))
        assert all(a.status_code == 500 for a in log)
        window = settings.WEBHOOK_RETRY_WINDOW
        assert log[-1].attempted_at - delivery.created_at >= window
        assert all(a.attempted_at - delivery.created_at < window for a in log[:-1])
        assert all(a.next_attempt_at for a in log[:-1]) and log[-1].next_attempt_at is None
        gaps = [(b.attempted_at - a.attempted_at).total_seconds()
                for a, b in zip(log, log[1:], strict=False)]
        assert max(gaps) <= webhooks.BACKOFF_MAX_S * 1.2
        assert len(hook_receiver.requests) == len(log) == delivery.attempts

        endpoint.refresh_from_db()
        assert not endpoint.is_active
        assert endpoint.disabled_at == log[-1].attempted_at
        assert endpoint.disabled_reason == "failing for 24 hours"
        notified = Notification.objects.filter(kind=NotificationKind.WEBHOOK_DISABLED)
        assert sorted(n.recipient_id for n in notified) == sorted(
            [owner.user_id, manager.user_id])
        assert all(n.tenant_id == tenant.pk and hook_receiver.url in n.text for n in notified)

        # Disabled: later events make no deliveries, and nothing more is sent.
        lead_update(lead=lead, changes={"contact_phone": "+49 30 123"}, actor=Actor())
        events_dispatch()
        traveller.shift(timedelta(hours=2))
        assert webhooks.webhook_deliveries_send() == 0
        assert WebhookDelivery.objects.count() == 1


def test_during_the_grace_period_both_secrets_verify_and_after_it_only_the_new_one(
    hook_receiver,
):
    with time_machine.travel(START, tick=False) as traveller:
        endpoint, old_secret = endpoint_for(TenantFactory(), hook_receiver.url)
        new_secret = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor())
        assert new_secret != old_secret

        traveller.shift(settings.WEBHOOK_SECRET_GRACE - timedelta(minutes=1))
        webhooks.test_delivery_create(endpoint=endpoint)
        webhooks.webhook_deliveries_send()
        during = hook_receiver.requests[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert during.verify(old_secret)["type"] == "webhook.test"
        assert during.verify(new_secret)["type"] == "webhook.test"

        traveller.shift(timedelta(minutes=2))  # the grace period is over
        webhooks.test_delivery_create(endpoint=endpoint)
        webhooks.webhook_deliveries_send()
        after = hook_receiver.requests[-1]
        assert after.webhook_id != during.webhook_id
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        assert after.verify(new_secret)["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            after.verify(old_secret)


def test_redeliver_sends_again_with_the_same_webhook_id(hook_receiver, vendor_a):
    _key, api_secret = api_key_for(vendor_a)
    api = ApiClient(api_secret)
    with time_machine.travel(START, tick=False) as traveller:
        endpoint, secret = endpoint_for(vendor_a, hook_receiver.url)
        lead_create(tenant=vendor_a, actor=Actor(), fields={"contact_email": "a@acme.example"})
        events_dispatch()
        assert webhooks.webhook_deliveries_send() == 1
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == DeliveryStatus.DELIVERED

        traveller.shift(timedelta(hours=30))  # long after the retry window, too
        response = api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver/")
        assert response.status_code == 202, response.content
        assert webhooks.webhook_deliveries_send() == 1

    first, second = hook_receiver.requests
    assert first.webhook_id == second.webhook_id == delivery.msg_id
    assert first.body == second.body
    assert first.verify(secret) == second.verify(secret)
    assert second.received_at - first.received_at == timedelta(hours=30)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    log = api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries/").json()
    assert [a["number"] for a in log["results"][0]["attempt_log"]] == [1, 2]
    assert [a["status_code"] for a in log["results"][0]["attempt_log"]] == [204, 204]


def test_a_receiver_rejects_a_replay_older_than_five_minutes(hook_receiver):
    with time_machine.travel(START, tick=False) as traveller:
        endpoint, secret = endpoint_for(TenantFactory(), hook_receiver.url)
        webhooks.test_delivery_create(endpoint=endpoint)
        webhooks.webhook_deliveries_send()
        (captured,) = hook_receiver.requests
        receiver = Webhook(secret)
        traveller.shift(timedelta(minutes=4))
        assert receiver.verify(captured.body, captured.headers)["type"] == "webhook.test"
        traveller.shift(timedelta(minutes=1, seconds=1))  # 5 min 1 s after it was signed
        with pytest.raises(WebhookVerificationError, match="too old"):
            receiver.verify(captured.body, captured.headers)
        # Nor can the replayer refresh the timestamp: the signature covers it.
        fresh = {**captured.headers, "webhook-timestamp": str(int(timezone.now().timestamp()))}
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            receiver.verify(captured.body, fresh)


def readme_verify(secret: str, headers, body: bytes) -> bool:
    """The plain-Python receiver from README.md ("Verifying a delivery"), verbatim."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 5 * 60:
        return False  # older than 5 minutes (or from the future): a replay
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.removeprefix("v1,"))
               for sig in headers["webhook-signature"].split() if sig.startswith("v1,"))


def test_the_readme_receiver_verifies_without_a_library(hook_receiver):
    with time_machine.travel(START, tick=False) as traveller:
        tenant = TenantFactory()
        endpoint, secret = endpoint_for(tenant, hook_receiver.url)
        lead_create(tenant=tenant, actor=Actor(),
                    fields={"contact_email": "jürgen@müller-maschinen.example",
                            "company_name": "Müller Maschinen GmbH"})
        events_dispatch()
        webhooks.webhook_deliveries_send()
        (request,) = hook_receiver.requests
        assert readme_verify(secret, request.headers, request.body)
        assert not readme_verify(secret, request.headers, request.body.replace(b"M", b"N"))
        assert not readme_verify(webhooks.secret_new(), request.headers, request.body)
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert not readme_verify(secret, request.headers, request.body)


def test_a_connection_is_reused_only_when_the_answer_was_read_to_its_end(hook_receiver):
    """The sender reads at most 500 bytes of an answer. A connection with the rest still
    unread must not go back to the pool: the next request on it would read those bytes as
    its own answer. Short answers keep the connection alive."""
    endpoint, _secret = endpoint_for(TenantFactory(), hook_receiver.url)
    for _ in range(3):
        webhooks.test_delivery_create(endpoint=endpoint)
    assert webhooks.webhook_deliveries_send() == 3
    assert len({r.client_port for r in hook_receiver.requests}) == 1  # keep-alive

    hook_receiver.requests.clear()
    hook_receiver.status = 200
    hook_receiver.body = b"<html>" + b"x" * 5000 + b"</html>"
    for _ in range(3):
        webhooks.test_delivery_create(endpoint=endpoint)
    assert webhooks.webhook_deliveries_send() == 3
    assert [r.status for r in hook_receiver.requests] == [200, 200, 200]
    assert len({r.client_port for r in hook_receiver.requests}) == 3  # a new one each time
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    long_answers = WebhookAttempt.objects.filter(status_code=200)
    assert [len(a.response_excerpt) for a in long_answers] == [webhooks.EXCERPT] * 3


def test_a_delivery_to_a_deactivated_endpoint_is_failed_unsent(hook_receiver):
    endpoint, _secret = endpoint_for(TenantFactory(), hook_receiver.url)
    delivery = webhooks.test_delivery_create(endpoint=endpoint)
    webhooks.webhook_endpoint_deactivate(endpoint=endpoint, actor=Actor())
    assert webhooks.webhook_deliveries_send() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and not hook_receiver.requests


# --- SSRF at send time ------------------------------------------------------------------------

def test_a_private_target_is_refused_at_send_time_too(hook_receiver):
    # Saved while private targets were allowed (or before the address changed) ...
    endpoint, _secret = endpoint_for(TenantFactory(), hook_receiver.url)
    delivery = webhooks.test_delivery_create(endpoint=endpoint)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        assert webhooks.webhook_deliveries_send() == 1
    # ... it is checked again before the attempt: nothing reaches the receiver.
    assert hook_receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "refused" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None


def test_dns_rebinding_between_check_and_connect_is_refused(hook_receiver, monkeypatch):
    """The check sees a public address; the connection would see 127.0.0.1 (a DNS server
    answering differently the second time). The sender connects only where it checked."""
    port = hook_receiver.url.split(":")[2].split("/")[0]
    endpoint, _secret = endpoint_for(TenantFactory(), f"http://localhost:{port}/hooks")
    real_resolve = webhooks._resolve
    answers = []

    def lying_resolver(host, port):
        answers.append(host)
        if len(answers) == 1:
            return ["93.184.216.34"]
        return real_resolve(host, port)

    monkeypatch.setattr(webhooks, "_resolve", lying_resolver)
    webhooks.test_delivery_create(endpoint=endpoint)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        webhooks.webhook_deliveries_send()
    assert hook_receiver.requests == []
    assert len(answers) == 2  # checked, then resolved once more for the connection
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "refused" in attempt.error


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.0.0.1/", "http://localhost/", "http://[::1]/",
    "http://0.0.0.0/", "http://100.64.0.1/", "http://169.254.169.254/",
    "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[fd00::1]/",
    "http://224.0.0.1/", "ftp://93.184.216.34/", "http:///path-only",
    "http://93.184.216.34:99999/", "http://[::1/",
])
def test_target_check_refuses(url):
    with pytest.raises(webhooks.TargetRefused):
        webhooks.target_check(url)


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize("url", [
    "https://93.184.216.34/hook", "http://93.184.216.34:8080/hook",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
])
def test_target_check_accepts_public_addresses(url):
    webhooks.target_check(url)
