"""Custom field definitions are cached per configuration version: a change is seen at once."""

import json

import pytest
from django.test import Client

from leads.models import CustomField
from tenancy.models import Tenant
from tests.factories import TenantFactory, api_key_for


@pytest.mark.django_db
def test_a_new_or_removed_custom_field_applies_to_the_very_next_request():
    tenant = TenantFactory()
    _key, secret = api_key_for(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def create(**custom):
        return client.post("/api/v1/leads/", json.dumps(
            {"contact_email": "a@b.example", "custom_fields": custom}),
            content_type="application/json")

    assert create(employees=12).status_code == 400  # unknown field
    version = Tenant.objects.get(pk=tenant.pk).config_version
    field = CustomField.objects.create(tenant=tenant, key="employees", label="Employees",
                                       kind="number")
    assert Tenant.objects.get(pk=tenant.pk).config_version == version + 1
    assert create(employees=12).status_code == 201
    field.kind = "date"
    field.save()
    assert create(employees=12).json()["errors"][0]["pointer"] == "/custom_fields/employees"
    field.delete()
    assert create(employees=12).status_code == 400
