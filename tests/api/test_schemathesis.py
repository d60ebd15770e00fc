"""Schemathesis against a vendor with real data: every generated request, valid or not, gets a
documented status, a response the schema describes, and never a 5xx.

tests/api/test_schema_fuzz.py sends the generated ids as they come, which for the object
endpoints means a 404 before any view code runs. Here each operation that names a lead or a
partner is sent to one that exists (an accepted lead flagged as duplicate; a tagged partner
with a tier), and the vendor has custom fields and pipeline stages, so generated bodies reach
validation, the lifecycle functions and the database. The objects are put back before each
example, so a `won` or a DELETE early on does not turn the rest into conflicts.
"""

from dataclasses import dataclass

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from leads.models import Lead, LeadStatus
from leads.services import activity_log
from partners.models import Partner
from tenancy.actors import Actor
from tests.factories import (
    CustomFieldFactory,
    LeadFactory,
    PartnerFactory,
    PartnerTagFactory,
    PipelineStageFactory,
    TenantFactory,
    TierFactory,
    api_key_for,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# The schema view reads no database; JSON, not the default YAML.
schema = schemathesis.openapi.from_dict(Client().get("/api/schema/?format=json").json())
schema.app = application

LEAD_EXTERNAL_ID, PARTNER_EXTERNAL_ID = "L-1", "P-1"


@dataclass
class World:
    secret: str
    lead: Lead
    earlier: Lead
    partner: Partner

    def reset(self) -> None:
        """Put the lead and the partner back as the fixture made them."""
        tenant_leads = Lead.objects.filter(tenant_id=self.lead.tenant_id)
        tenant_leads.filter(external_id=LEAD_EXTERNAL_ID).exclude(pk=self.lead.pk).update(
            external_id=None)
        tenant_leads.filter(pk=self.lead.pk).update(
            status=LeadStatus.ACCEPTED, external_id=LEAD_EXTERNAL_ID, duplicate_of=self.earlier,
            stage=None, won_value=None, closed_on=None, lost_reason="")
        partners = Partner.objects.filter(tenant_id=self.partner.tenant_id)
        partners.filter(external_id=PARTNER_EXTERNAL_ID).exclude(pk=self.partner.pk).update(
            external_id=None)
        partners.filter(pk=self.partner.pk).update(external_id=PARTNER_EXTERNAL_ID,
                                                   is_active=True)

    def aim(self, case) -> None:
        """Point the case's path at the vendor's own lead or partner."""
        is_partner = case.operation.path.startswith("/api/v1/partners/")
        target = self.partner if is_partner else self.lead
        if "id" in case.path_parameters:
            case.path_parameters["id"] = str(target.public_id)
        if "external_id" in case.path_parameters:
            case.path_parameters["external_id"] = (
                PARTNER_EXTERNAL_ID if is_partner else LEAD_EXTERNAL_ID)


@pytest.fixture
def world(transactional_db):
    # transactional_db: the WSGI handler closes stale connections at the end of each request,
    # which must not end a test transaction; committed rows are flushed after the test.
    tenant = TenantFactory(slug="schemathesis", lead_consent_required=True)
    for position, key in enumerate(["qualified", "proposal", "negotiation"]):
        PipelineStageFactory(tenant=tenant, key=key, position=position)
    CustomFieldFactory(tenant=tenant, key="erp_system", kind="text")
    CustomFieldFactory(tenant=tenant, key="employees", kind="number")
    CustomFieldFactory(tenant=tenant, key="segment", kind="choice", choices=["smb", "mid"])
    CustomFieldFactory(tenant=tenant, key="go_live", kind="date")
    TierFactory(tenant=tenant, name="Gold")
    partner = PartnerFactory(tenant=tenant, external_id=PARTNER_EXTERNAL_ID)
    PartnerTagFactory(partner=partner)
    earlier = LeadFactory(tenant=tenant, contact_email="anna@acme.example")
    lead = LeadFactory(tenant=tenant, external_id=LEAD_EXTERNAL_ID, partner=partner,
                       status=LeadStatus.ACCEPTED, contact_email="ANNA@acme.example",
                       email_key="anna@acme.example", duplicate_of=earlier,
                       custom_fields={"segment": "smb"})
    activity_log(lead=lead, kind="note", body="First call", occurred_at=None, actor=Actor())
    _key, secret = api_key_for(tenant)
    return World(secret=secret, lead=lead, earlier=earlier, partner=partner)


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_requests_on_real_objects_get_documented_answers_and_no_server_error(case, world):
    world.reset()
    world.aim(case)

    case.call_and_validate(headers={"Authorization": f"Bearer {world.secret}"}, checks=CHECKS)
