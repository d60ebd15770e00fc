"""The outbox: LeadEvent rows become notifications and webhook deliveries exactly once,
whatever the broker does."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from config.celery import app as celery_app
from leads.models import LeadEvent
from leads.services import lead_create
from notifications import services as notification_services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from notifications.services import events_dispatch
from notifications.webhooks import secret_new, webhook_deliveries_send
from tenancy.actors import Actor
from tenancy.roles import Role
from tests.factories import MembershipFactory, TenantFactory, api_key_for


@pytest.fixture
def receiver():
    """A real HTTP receiver on loopback that records what it gets."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def _vendor_with_endpoint(url):
    tenant = TenantFactory(lead_consent_required=True)
    manager = MembershipFactory(tenant=tenant, role=Role.CHANNEL_MANAGER)
    MembershipFactory(tenant=tenant, role=Role.ANALYST)  # analysts get no notification
    secret = secret_new()
    WebhookEndpoint.objects.create(tenant=tenant, url=url, secret=secret)
    return tenant, manager, secret


@pytest.mark.django_db
def test_dispatch_turns_each_event_into_its_notifications_and_deliveries_once(receiver):
    url, received = receiver
    tenant, manager, secret = _vendor_with_endpoint(url)
    held = lead_create(tenant=tenant, actor=Actor(), fields={"contact_email": "a@acme.example"})
    lead_create(tenant=tenant, actor=Actor(), fields={
        "contact_email": "b@acme.example", "consent_basis": "legitimate_interest"})
    assert LeadEvent.objects.filter(dispatched_at__isnull=True).count() == 2
    assert events_dispatch() == 2
    assert events_dispatch() == 0
    assert LeadEvent.objects.filter(dispatched_at__isnull=True).count() == 0
    # Only the held lead calls for a notification, and only managers get it.
    notification = Notification.objects.get()
    assert (notification.recipient, notification.lead, notification.kind) == (
        manager.user, held, "lead_held")
    assert WebhookDelivery.objects.count() == 2
    assert webhook_deliveries_send() == 2
    bodies = [Webhook(secret).verify(body, headers) for headers, body in received]
    assert sorted(b["data"]["lead"]["contact_email"] for b in bodies) == [
        "a@acme.example", "b@acme.example"]
    assert {b["type"] for b in bodies} == {"lead.created"}


@pytest.mark.django_db
def test_a_second_dispatch_of_the_same_event_adds_nothing(receiver):
    url, _received = receiver
    tenant, _manager, _secret = _vendor_with_endpoint(url)
    lead_create(tenant=tenant, actor=Actor(), fields={"contact_email": "a@acme.example"})
    events_dispatch()
    # As if a worker crashed after creating rows but before marking the event dispatched.
    LeadEvent.objects.update(dispatched_at=None)
    events_dispatch()
    assert Notification.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_drains_take_disjoint_batches():
    tenant = TenantFactory()
    WebhookEndpoint.objects.create(tenant=tenant, url="http://127.0.0.1:9/", secret=secret_new())
    for n in range(60):
        lead_create(tenant=tenant, actor=Actor(), fields={"contact_email": f"p{n}@x.example"})
    counts = []

    def drain():
        try:
            while True:
                done = events_dispatch(limit=7)
                if not done:
                    return
                counts.append(done)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 60  # each event dispatched by exactly one drain
    assert WebhookDelivery.objects.count() == 60


@pytest.fixture
def broker_down():
    """Point Celery at a port where no broker listens, as if Redis were down."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_write_url, celery_app._pool
    saved_producers = celery_app.amqp._producer_pool
    conf.broker_url = conf.broker_write_url = "redis://127.0.0.1:1/0"
    celery_app._pool = celery_app.amqp._producer_pool = None
    notification_services._last_publish = 0.0  # no debounce from an earlier test's publish
    yield
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    conf.broker_url, conf.broker_write_url, celery_app._pool = saved
    celery_app.amqp._producer_pool = saved_producers


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_broker_down_during_a_create_the_request_succeeds_and_delivery_follows(
    receiver, broker_down, caplog
):
    url, received = receiver
    tenant, manager, secret = _vendor_with_endpoint(url)
    _key, api_secret = api_key_for(tenant)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="notifications.services"):
        response = client.post("/api/v1/leads/", json.dumps({"contact_email": "x@acme.example"}),
                               content_type="application/json")
    assert response.status_code == 201
    # Failing fast matters as much as failing softly: kombu's default reconnect loop held
    # each such request for about 6 s.
    assert time.monotonic() - started < 3
    assert "outbox publish failed" in caplog.text
    assert not received and not Notification.objects.exists()
    # The broker is back: the periodic drain (beat) delivers what the publish could not.
    assert events_dispatch() == 1
    assert webhook_deliveries_send() == 1
    assert len(received) == 1
    assert Webhook(secret).verify(received[0][1], received[0][0])["type"] == "lead.created"
    assert Notification.objects.get().recipient == manager.user
