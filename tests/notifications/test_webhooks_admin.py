"""The Django admin for webhook endpoints and deliveries: every change through the services,
the secret shown once."""

import pytest
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import reverse

from notifications import webhooks
from notifications.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenancy.actors import Actor
from tenancy.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "https://crm.example.com/hooks/leadshare"


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def endpoint_for(tenant, url=URL) -> WebhookEndpoint:
    endpoint, _secret = webhooks.webhook_endpoint_create(tenant=tenant, url=url, event_types=[],
                                                         actor=Actor())
    return endpoint


def test_adding_an_endpoint_goes_through_the_service_and_shows_the_secret_once(
    admin_client, vendor_a
):
    response = admin_client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "tenant": vendor_a.pk, "url": URL, "description": "HubSpot",
        "event_types": ["lead.won", "lead.lost"],
    }, follow=True)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.tenant, endpoint.url, endpoint.event_types) == (
        vendor_a, URL, ["lead.lost", "lead.won"])
    assert [m for m in messages_of(response) if endpoint.secret in m]
    entry = AuditEntry.objects.get(action="webhook_endpoint.create")
    assert entry.actor == admin_client.user
    # Not on the change page afterwards.
    page = admin_client.get(reverse("admin:notifications_webhookendpoint_change",
                                    args=[endpoint.pk]))
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
def test_the_admin_refuses_a_private_target(admin_client, vendor_a):
    response = admin_client.post(reverse("admin:notifications_webhookendpoint_add"), {
        "tenant": vendor_a.pk, "url": "http://10.0.0.1/hook", "description": ""})
    assert response.status_code == 200  # the form again, with the error
    assert "private, loopback or reserved" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_changing_an_endpoint_goes_through_the_service(admin_client, vendor_a):
    endpoint = endpoint_for(vendor_a)
    response = admin_client.post(
        reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]),
        {"url": URL, "description": "renamed", "event_types": ["lead.created"]})
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint.refresh_from_db()
    # is_active was not ticked: the service deactivated the endpoint, with the reason.
    assert endpoint.description == "renamed" and endpoint.event_types == ["lead.created"]
    assert not endpoint.is_active
    assert endpoint.disabled_reason == f"deactivated by {admin_client.user.email}"
    entry = AuditEntry.objects.get(action="webhook_endpoint.update")
    assert entry.after == {"description": "renamed", "event_types": ["lead.created"],
                           "is_active": False}


def test_the_endpoint_actions_send_a_test_rotate_and_deactivate(admin_client, vendor_a):
    endpoint = endpoint_for(vendor_a)
    old_secret = endpoint.secret
    changelist = reverse("admin:notifications_webhookendpoint_changelist")

    admin_client.post(changelist, {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert WebhookDelivery.objects.get().event_type == "webhook.test"

    response = admin_client.post(changelist, {"action": "rotate_secret",
                                              "_selected_action": [endpoint.pk]}, follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.previous_secret == old_secret
    assert [m for m in messages_of(response) if endpoint.secret in m]

    admin_client.post(changelist, {"action": "deactivate", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {
        "webhook_endpoint.create", "webhook_endpoint.test", "webhook_endpoint.rotate_secret",
        "webhook_endpoint.deactivate"}


def test_endpoints_cannot_be_deleted_in_the_admin(admin_client, vendor_a):
    endpoint = endpoint_for(vendor_a)
    response = admin_client.get(reverse("admin:notifications_webhookendpoint_delete",
                                        args=[endpoint.pk]))
    assert response.status_code == 403


def test_a_delivery_is_read_only_with_its_attempt_log_and_can_be_redelivered(
    admin_client, vendor_a
):
    endpoint = endpoint_for(vendor_a)
    delivery = WebhookDelivery.objects.create(
        tenant=vendor_a, endpoint=endpoint, event_type="webhook.test", msg_id="test_1",
        payload={"type": "webhook.test"}, status=DeliveryStatus.FAILED, attempts=1)
    WebhookAttempt.objects.create(tenant=vendor_a, delivery=delivery, number=1,
                                  status_code=410, response_excerpt="endpoint gone for good")
    page = admin_client.get(reverse("admin:notifications_webhookdelivery_change",
                                    args=[delivery.pk]))
    assert page.status_code == 200
    assert "endpoint gone for good" in page.content.decode()
    assert admin_client.get(reverse("admin:notifications_webhookdelivery_add")).status_code == 403
    admin_client.post(reverse("admin:notifications_webhookdelivery_changelist"),
                      {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    assert AuditEntry.objects.filter(action="webhook_delivery.redeliver",
                                     actor=admin_client.user).exists()
