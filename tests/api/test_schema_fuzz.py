"""Schemathesis against our own OpenAPI schema, in-process: no generated request, valid or
not, may get a 5xx or a response the schema does not describe."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.factories import LeadFactory, PartnerFactory, TenantFactory, api_key_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


# Loading the schema touches no database: the schema view is static.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def api_secret():
    """A vendor with a partner, a lead and a key; requests keep the test's connection."""
    # The raw WSGI handler closes the database connection after each request (Django's test
    # client suspends that); here it would close the test's transaction on PostgreSQL.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    tenant = TenantFactory(slug="fuzz")
    PartnerFactory(tenant=tenant)
    LeadFactory(tenant=tenant)
    _key, secret = api_key_for(tenant)
    yield secret
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error_or_an_undocumented_response(case, api_secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_secret}"}, checks=CHECKS)
