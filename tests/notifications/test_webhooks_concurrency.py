"""Several senders at once, on PostgreSQL with real threads: no delivery is sent twice."""

import threading
from collections import Counter

import pytest
from django.db import connection

from notifications import webhooks
from notifications.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tenancy.actors import Actor
from tests.factories import TenantFactory

DELIVERIES = 40
SENDERS = 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_never_send_one_delivery_twice(hook_receiver):
    hook_receiver.delay_s = 0.01  # a slow receiver: senders overlap while requests run
    endpoint, _secret = webhooks.webhook_endpoint_create(
        tenant=TenantFactory(), url=hook_receiver.url, event_types=[], actor=Actor())
    for _ in range(DELIVERIES):
        webhooks.test_delivery_create(endpoint=endpoint)
    start = threading.Barrier(SENDERS)
    attempts_by_sender = []
    errors = []

    def sender():
        try:
            start.wait()
            made = 0
            while WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists():
                made += webhooks.webhook_deliveries_send(limit=7)
            attempts_by_sender.append(made)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    received = Counter(hook_receiver.ids)
    assert len(received) == DELIVERIES
    assert set(received.values()) == {1}, received.most_common(3)
    assert sum(attempts_by_sender) == DELIVERIES
    assert WebhookAttempt.objects.count() == DELIVERIES
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
