import os

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tenancy.roles import Role
from tests.api_client import ApiClient
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, api_key_for

hypothesis_settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


SERVICE_MARKERS = {"postgres": "PostgreSQL-only", "redis": "Redis", "browser": "Chromium"}


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://...")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not has_redis:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _fresh_config_caches():
    """Rolled-back tests can reuse a tenant's primary key with the same config_version:
    start each test with empty per-process configuration caches."""
    from escalation import sla
    from leads import services as lead_services
    from routing import inputs as routing_inputs

    lead_services._custom_fields_cache.clear()
    routing_inputs._config_cache.clear()
    routing_inputs._performance_cache.clear()
    sla._cache.clear()


@pytest.fixture
def vendor_a(db):
    return TenantFactory(slug="vendor-a", name="Vendor Alpha")


@pytest.fixture
def vendor_b(db):
    return TenantFactory(slug="vendor-b", name="Vendor Bravo")


@pytest.fixture
def manager_a(vendor_a):
    return MembershipFactory(tenant=vendor_a, role=Role.CHANNEL_MANAGER)


@pytest.fixture
def manager_b(vendor_b):
    return MembershipFactory(tenant=vendor_b, role=Role.CHANNEL_MANAGER)


@pytest.fixture
def owner_a(vendor_a):
    return MembershipFactory(tenant=vendor_a, role=Role.OWNER)


@pytest.fixture
def partner_a(vendor_a):
    return PartnerFactory(tenant=vendor_a, name="Alpha Reseller")


@pytest.fixture
def partner_b(vendor_b):
    return PartnerFactory(tenant=vendor_b, name="Bravo Reseller")


@pytest.fixture
def api(vendor_a):
    """A read-write API client of vendor A."""
    _key, secret = api_key_for(vendor_a)
    return ApiClient(secret)


@pytest.fixture
def api_b(vendor_b):
    _key, secret = api_key_for(vendor_b)
    return ApiClient(secret)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


def pytest_terminal_summary(terminalreporter):
    """Say how many tests that need a real service ran, so a CI log shows they were not
    skipped (a green run on SQLite alone proves nothing about locks or the broker)."""
    outcomes = {marker: {} for marker in SERVICE_MARKERS}
    for outcome in ("passed", "skipped", "failed", "error"):  # later ones win
        for report in terminalreporter.stats.get(outcome, []):
            if outcome == "passed" and report.when != "call":
                continue
            for marker in SERVICE_MARKERS:
                if marker in getattr(report, "keywords", {}):
                    outcomes[marker][report.nodeid] = "failed" if outcome == "error" else outcome
    terminalreporter.section("tests needing real services")
    for marker, label in SERVICE_MARKERS.items():
        seen = list(outcomes[marker].values())
        terminalreporter.write_line(
            f"{label} tests: {seen.count('passed')} passed, {seen.count('failed')} failed, "
            f"{seen.count('skipped')} skipped"
        )
