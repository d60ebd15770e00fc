"""Per-key rate limits: 429 with Retry-After when exceeded, and requests let through when the
cache that counts them is down."""

import logging

import pytest
from django.test import override_settings

from api.throttling import ApiKeyRateThrottle
from tests.api.conftest import assert_problem, counts
from tests.api_client import ApiClient
from tests.factories import api_key_for

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"

# Redis on a port nothing listens on; short timeouts keep the test quick.
BROKEN_CACHE = {"default": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
}}


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})


def test_over_the_rate_is_429_with_retry_after(vendor_a, three_per_minute, time_machine):
    time_machine.move_to("2026-11-24 09:00:00+00:00", tick=False)
    _key, secret = api_key_for(vendor_a)
    client = ApiClient(secret)

    statuses = [client.get(LEADS).status_code for _ in range(3)]
    refused = client.post(LEADS, {"contact_email": "a@acme.example"})

    assert statuses == [200, 200, 200]
    assert assert_problem(refused, 429)["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert counts() == (0, 0)
    # The window passes: the key may call again.
    time_machine.move_to("2026-11-24 09:01:01+00:00", tick=False)
    assert client.get(LEADS).status_code == 200


def test_rate_is_counted_per_key(vendor_a, vendor_b, three_per_minute):
    busy = ApiClient(api_key_for(vendor_a)[1])
    other_key_same_vendor = ApiClient(api_key_for(vendor_a)[1])
    other_vendor = ApiClient(api_key_for(vendor_b)[1])
    for _ in range(3):
        busy.get(LEADS)

    assert busy.get(LEADS).status_code == 429
    assert other_key_same_vendor.get(LEADS).status_code == 200
    assert other_vendor.get(LEADS).status_code == 200


def test_requests_succeed_when_the_throttle_cache_is_down(vendor_a, three_per_minute, caplog):
    _key, secret = api_key_for(vendor_a)
    client = ApiClient(secret)

    with override_settings(CACHES=BROKEN_CACHE), caplog.at_level(logging.WARNING):
        # More than the rate allows: with a working cache the fourth would be refused.
        statuses = [client.get(LEADS).status_code for _ in range(4)]
        created = client.post(LEADS, {"contact_email": "a@acme.example"})

    assert statuses == [200] * 4
    assert created.status_code == 201
    assert counts() == (1, 1)
    assert "throttle cache unavailable; request let through" in caplog.text
