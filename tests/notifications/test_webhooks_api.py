"""The webhook endpoints API: the contract of every endpoint, its audit trail, scopes and
tenant isolation."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from leads.models import LeadEventKind
from notifications import webhooks
from notifications.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenancy.actors import Actor
from tenancy.models import AuditEntry

pytestmark = pytest.mark.django_db

PROBLEM_JSON = "application/problem+json"
URL = "https://crm.example.com/hooks/leadshare"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def assert_problem(response, status: int, *pointers: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_JSON
    body = response.json()
    reported = [error["pointer"] for error in body.get("errors", [])]
    for pointer in pointers:
        assert pointer in reported, (pointer, body)
    return body


def endpoint_for(tenant, url=URL, **fields) -> tuple[WebhookEndpoint, str]:
    return webhooks.webhook_endpoint_create(
        tenant=tenant, url=url, event_types=fields.pop("event_types", []),
        description=fields.pop("description", ""), actor=Actor())


def delivery_for(endpoint, **fields) -> WebhookDelivery:
    defaults = {"event_type": "webhook.test", "msg_id": f"test_{WebhookDelivery.objects.count()}",
                "payload": {"type": "webhook.test"}, "next_attempt_at": None,
                "status": DeliveryStatus.DELIVERED}
    return WebhookDelivery.objects.create(tenant_id=endpoint.tenant_id, endpoint=endpoint,
                                          **{**defaults, **fields})


def audits(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- create -----------------------------------------------------------------------------------

def test_create_returns_the_secret_once_and_audits(api, vendor_a):
    response = api.post("/api/v1/webhook-endpoints/", {
        "url": URL, "description": "Salesforce", "event_types": ["lead.won", "lead.created",
                                                                 "lead.won"]})
    assert response.status_code == 201, response.content
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.tenant == vendor_a
    assert body["id"] == str(endpoint.public_id)
    assert response["Location"] == f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["url"] == URL and body["description"] == "Salesforce"
    assert body["event_types"] == ["lead.created", "lead.won"]  # without repeats
    assert body["is_active"] is True and body["failing_since"] is None
    (entry,) = audits("webhook_endpoint.create")
    assert entry.tenant == vendor_a and entry.actor_label.startswith("api key: ")
    assert entry.object_id == str(endpoint.public_id)
    assert entry.after["url"] == URL
    assert endpoint.secret not in str(entry.before) + str(entry.after)


def test_create_with_only_a_url_subscribes_to_everything(api):
    response = api.post("/api/v1/webhook-endpoints/", {"url": URL})
    assert response.status_code == 201, response.content
    assert response.json()["event_types"] == []
    endpoint = WebhookEndpoint.objects.get()
    assert all(endpoint.wants(t) for t in webhooks.EVENT_TYPES)


def test_the_known_event_types_are_every_lead_event_kind_and_the_test_event():
    assert set(webhooks.EVENT_TYPES) == {f"lead.{k}" for k in LeadEventKind.values} | {
        "webhook.test"}


@pytest.mark.parametrize("payload, pointer", [
    ({"url": URL, "event_types": ["lead.created", "lead.exploded"]}, "/event_types/1"),
    ({"url": URL, "event_types": "lead.created"}, "/event_types"),
    ({"url": URL, "secret": "whsec_mine"}, "/secret"),
    ({"url": URL, "is_active": False}, "/is_active"),
    ({"description": "no url"}, "/url"),
    ({"url": "not a url"}, "/url"),
    ({"url": "ftp://crm.example.com/hooks"}, "/url"),
    ({"url": "https://crm.example.com/" + "a" * 500}, "/url"),
    ({"url": "https://crm.example.com:99999/hooks"}, "/url"),
])
def test_create_refuses_bad_input_with_a_pointer(api, payload, pointer):
    assert_problem(api.post("/api/v1/webhook-endpoints/", payload), 400, pointer)
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="webhook").exists()


# --- list and read ----------------------------------------------------------------------------

def test_list_is_newest_first_paginated_own_endpoints_only_and_never_shows_secrets(
    api, vendor_a, vendor_b
):
    with time_machine.travel(NOW, tick=False) as traveller:
        first, _s = endpoint_for(vendor_a, url="https://one.example/hook")
        traveller.shift(60)
        second, _s = endpoint_for(vendor_a, url="https://two.example/hook")
        other, _s = endpoint_for(vendor_b, url="https://bravo.example/hook")
    response = api.get("/api/v1/webhook-endpoints/")
    assert response.status_code == 200
    body = response.json()
    assert [e["id"] for e in body["results"]] == [str(second.public_id), str(first.public_id)]
    assert "whsec_" not in response.content.decode()
    assert all("secret" not in item for item in body["results"])
    page = api.get("/api/v1/webhook-endpoints/?page_size=1").json()
    assert [e["id"] for e in page["results"]] == [str(second.public_id)]
    rest = api.get(page["next"]).json()
    assert [e["id"] for e in rest["results"]] == [str(first.public_id)]


def test_list_filters_by_is_active(api, vendor_a):
    active, _s = endpoint_for(vendor_a)
    inactive, _s = endpoint_for(vendor_a)
    webhooks.webhook_endpoint_deactivate(endpoint=inactive, actor=Actor())
    body = api.get("/api/v1/webhook-endpoints/?is_active=false").json()
    assert [e["id"] for e in body["results"]] == [str(inactive.public_id)]


def test_read_shows_the_endpoint_without_its_secret(api_read_only, vendor_a):
    endpoint, secret = endpoint_for(vendor_a, event_types=["lead.won"])
    response = api_read_only.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(endpoint.public_id) and body["event_types"] == ["lead.won"]
    assert "secret" not in body and secret not in response.content.decode()


def test_another_vendors_endpoint_and_delivery_are_404_for_every_operation(api, vendor_b):
    endpoint, secret = endpoint_for(vendor_b)
    delivery = delivery_for(endpoint)
    base = f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    responses = [
        api.get(base), api.patch(base, {"description": "mine now"}), api.delete(base),
        api.post(base + "rotate-secret/"), api.post(base + "test/"),
        api.get(base + "deliveries/"),
        api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver/"),
    ]
    for response in responses:
        assert_problem(response, 404)
        assert secret not in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.secret == secret and endpoint.description == ""
    assert WebhookDelivery.objects.count() == 1
    assert not AuditEntry.objects.filter(action__startswith="webhook_endpoint.").exclude(
        action="webhook_endpoint.create").exists()


def test_a_read_only_key_reads_but_changes_nothing(api_read_only, vendor_a):
    endpoint, secret = endpoint_for(vendor_a)
    delivery = delivery_for(endpoint)
    base = f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    assert api_read_only.get("/api/v1/webhook-endpoints/").status_code == 200
    assert api_read_only.get(base + "deliveries/").status_code == 200
    for response in [
        api_read_only.post("/api/v1/webhook-endpoints/", {"url": URL}),
        api_read_only.patch(base, {"description": "x"}), api_read_only.delete(base),
        api_read_only.post(base + "rotate-secret/"), api_read_only.post(base + "test/"),
        api_read_only.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver/"),
    ]:
        assert_problem(response, 403)
    endpoint.refresh_from_db()
    assert endpoint.secret == secret and endpoint.is_active
    assert WebhookEndpoint.objects.count() == 1 and WebhookDelivery.objects.count() == 1


# --- update and deactivate --------------------------------------------------------------------

def test_patch_changes_the_given_fields_and_audits_the_difference(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a, description="old")
    response = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
                         {"description": "new", "event_types": ["lead.lost"]})
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "new"
    assert response.json()["event_types"] == ["lead.lost"]
    assert "secret" not in response.json()
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types, endpoint.url) == ("new", ["lead.lost"],
                                                                          URL)
    (entry,) = audits("webhook_endpoint.update")
    assert entry.before == {"description": "old", "event_types": []}
    assert entry.after == {"description": "new", "event_types": ["lead.lost"]}


def test_a_patch_that_changes_nothing_writes_no_audit_entry(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a, description="same")
    response = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
                         {"description": "same"})
    assert response.status_code == 200
    assert audits("webhook_endpoint.update") == []


def test_patch_refuses_bad_input_and_keeps_the_endpoint(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    url = f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    assert_problem(api.patch(url, {"event_types": ["lead.nope"]}), 400, "/event_types/0")
    assert_problem(api.patch(url, {"url": "gopher://x.example/"}), 400, "/url")
    assert_problem(api.patch(url, {"secret": "whsec_x"}), 400, "/secret")
    endpoint.refresh_from_db()
    assert endpoint.url == URL and endpoint.event_types == []


def test_delete_deactivates_keeps_the_log_and_audits_once(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    delivery_for(endpoint)
    url = f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    response = api.delete(url)
    assert response.status_code == 204
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert endpoint.disabled_reason.startswith("deactivated by api key: ")
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    assert api.delete(url).status_code == 204  # already inactive: nothing more happens
    assert len(audits("webhook_endpoint.deactivate")) == 1
    assert api.get(url).json()["is_active"] is False


def test_patch_is_active_false_deactivates_like_delete(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    response = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
                         {"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["disabled_at"] is not None


def test_reactivating_a_disabled_endpoint_clears_its_failure_state(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, failing_since=NOW - timedelta(hours=25), disabled_at=NOW,
        disabled_reason="failing for 24 hours")
    response = api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
                         {"is_active": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_active"] is True
    assert (body["failing_since"], body["disabled_at"], body["disabled_reason"]) == (
        None, None, "")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is None and endpoint.disabled_at is None
    (entry,) = audits("webhook_endpoint.update")
    assert entry.before == {"is_active": False} and entry.after == {"is_active": True}


def test_a_new_url_restarts_the_failure_clock(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=NOW)
    api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
              {"url": "https://new-crm.example/hook"})
    endpoint.refresh_from_db()
    assert endpoint.url == "https://new-crm.example/hook" and endpoint.failing_since is None


# --- rotate -----------------------------------------------------------------------------------

def test_rotate_returns_the_new_secret_once_and_keeps_the_old_one_for_the_grace(api, vendor_a):
    endpoint, old_secret = endpoint_for(vendor_a)
    with time_machine.travel(NOW, tick=False):
        response = api.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret/")
    assert response.status_code == 200, response.content
    body = response.json()
    endpoint.refresh_from_db()
    assert body["secret"] == endpoint.secret != old_secret
    assert body["secret"].startswith("whsec_")
    assert endpoint.previous_secret == old_secret
    assert endpoint.previous_secret_expires_at == NOW + settings.WEBHOOK_SECRET_GRACE
    assert body["previous_secret_expires_at"].startswith("2026-11-25T09:00:00")
    (entry,) = audits("webhook_endpoint.rotate_secret")
    assert old_secret not in str(entry.after) and endpoint.secret not in str(entry.after)
    # Shown once: reading the endpoint afterwards does not show it.
    read = api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/")
    assert endpoint.secret not in read.content.decode()


# --- test event -------------------------------------------------------------------------------

def test_test_queues_a_webhook_test_delivery(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a, event_types=["lead.won"])
    response = api.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test/")
    assert response.status_code == 202, response.content
    body = response.json()
    delivery = WebhookDelivery.objects.get()
    assert body["id"] == str(delivery.public_id)
    assert (body["event_type"], body["status"], body["event"]) == ("webhook.test", "pending",
                                                                   None)
    assert body["webhook_id"] == delivery.msg_id and body["attempt_log"] == []
    assert body["payload"]["data"] == {"endpoint": str(endpoint.public_id)}
    assert delivery.next_attempt_at is not None
    assert len(audits("webhook_endpoint.test")) == 1


def test_test_on_an_inactive_endpoint_is_a_conflict(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    webhooks.webhook_endpoint_deactivate(endpoint=endpoint, actor=Actor())
    body = assert_problem(api.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test/"),
                          409)
    assert body["code"] == "endpoint_inactive"
    assert not WebhookDelivery.objects.exists()


# --- deliveries -------------------------------------------------------------------------------

def test_deliveries_are_newest_first_with_their_attempt_log(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    other_endpoint, _secret = endpoint_for(vendor_a)
    with time_machine.travel(NOW, tick=False) as traveller:
        older = delivery_for(endpoint, status=DeliveryStatus.PENDING, attempts=2,
                             last_status_code=503, next_attempt_at=NOW + timedelta(seconds=12))
        WebhookAttempt.objects.create(
            tenant=vendor_a, delivery=older, number=1, attempted_at=NOW, status_code=None,
            latency_ms=5001, error="ReadTimeoutError: read timed out",
            next_attempt_at=NOW + timedelta(seconds=5))
        WebhookAttempt.objects.create(
            tenant=vendor_a, delivery=older, number=2, attempted_at=NOW + timedelta(seconds=6),
            status_code=503, latency_ms=12, response_excerpt="down for maintenance",
            next_attempt_at=NOW + timedelta(seconds=12))
        traveller.shift(60)
        newer = delivery_for(endpoint)
        delivery_for(other_endpoint)
    response = api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["id"] for d in results] == [str(newer.public_id), str(older.public_id)]
    log = results[1]["attempt_log"]
    assert [a["number"] for a in log] == [1, 2]
    assert log[0]["status_code"] is None and log[0]["error"].startswith("ReadTimeoutError")
    assert log[0]["latency_ms"] == 5001
    assert log[1] == {
        "number": 2, "attempted_at": "2026-11-24T09:00:06Z", "status_code": 503,
        "latency_ms": 12, "response_excerpt": "down for maintenance", "error": "",
        "next_attempt_at": "2026-11-24T09:00:12Z",
    }
    assert results[1]["status"] == "pending" and results[1]["attempts"] == 2
    assert results[1]["endpoint"] == str(endpoint.public_id)


def test_deliveries_filter_by_status_and_paginate(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    with time_machine.travel(NOW, tick=False) as traveller:
        failed = delivery_for(endpoint, status=DeliveryStatus.FAILED)
        traveller.shift(1)
        delivered = [delivery_for(endpoint) for _ in range(3)]
    url = f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries/"
    body = api.get(url + "?status=failed").json()
    assert [d["id"] for d in body["results"]] == [str(failed.public_id)]
    seen, page = [], api.get(url + "?status=delivered&page_size=2").json()
    while True:
        seen += [d["id"] for d in page["results"]]
        if not page["next"]:
            break
        page = api.get(page["next"]).json()
    assert sorted(seen) == sorted(str(d.public_id) for d in delivered)
    assert_problem(api.get(url + "?status=lost"), 400, "/status")


def test_deliveries_of_an_unknown_endpoint_are_404(api):
    assert_problem(api.get(
        "/api/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000/deliveries/"), 404)


# --- redeliver --------------------------------------------------------------------------------

def test_redeliver_queues_a_failed_delivery_again(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    delivery = delivery_for(endpoint, status=DeliveryStatus.FAILED, attempts=30)
    with time_machine.travel(NOW, tick=False):
        response = api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["webhook_id"] == delivery.msg_id
    assert body["next_attempt_at"] == "2026-11-24T09:00:00Z"
    (entry,) = audits("webhook_delivery.redeliver")
    assert entry.object_id == str(delivery.public_id)
    assert entry.before == {"status": "failed"} and entry.after == {"status": "pending"}


def test_redeliver_to_an_inactive_endpoint_is_a_conflict(api, vendor_a):
    endpoint, _secret = endpoint_for(vendor_a)
    delivery = delivery_for(endpoint, status=DeliveryStatus.FAILED)
    webhooks.webhook_endpoint_deactivate(endpoint=endpoint, actor=Actor())
    body = assert_problem(
        api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver/"), 409)
    assert body["code"] == "endpoint_inactive"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


# --- SSRF -------------------------------------------------------------------------------------

@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.0.0.1/", "http://localhost/", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/", "http://192.168.1.20:8080/hook",
])
def test_create_refuses_private_and_loopback_targets(api, url):
    body = assert_problem(api.post("/api/v1/webhook-endpoints/", {"url": url}), 400, "/url")
    assert body["errors"][0]["code"] == "target_refused"
    assert not WebhookEndpoint.objects.exists()


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
def test_patch_refuses_a_private_target(api, vendor_a):
    endpoint, _secret = webhooks.webhook_endpoint_create(
        tenant=vendor_a, url="https://93.184.216.34/hook", event_types=[], actor=Actor())
    assert_problem(api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
                             {"url": "http://10.0.0.1/"}), 400, "/url")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.216.34/hook"


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
def test_create_accepts_a_public_address(api):
    # An address literal: no DNS needed to see that it is public.
    response = api.post("/api/v1/webhook-endpoints/", {"url": "https://93.184.216.34/hook"})
    assert response.status_code == 201, response.content
