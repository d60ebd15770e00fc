import os

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tenancy.roles import Role
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

hypothesis_settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
def is_postgres():
    return connection.vendor == "postgresql"
