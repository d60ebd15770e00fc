"""The lead page for partners: a lead offered to their partner opens without who asked
(contact, message, activities, history) until they accept; another partner's lead is 404;
and the offer notification leads there."""

import pytest
from django.urls import reverse

from notifications.models import Notification, NotificationKind
from notifications.services import events_dispatch
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake, offer_accept
from tenancy.actors import SYSTEM, Actor
from tenancy.roles import Role
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

FIELDS = {"contact_name": "Julia Berger", "contact_email": "j.berger@berger-mb.de",
          "company_name": "Berger Maschinenbau", "country": "DE",
          "message": "We need an ERP for 120 users."}


@pytest.fixture
def offered(vendor_a):
    """One partner, one rule: every lead is offered to that partner."""
    partner = PartnerFactory(tenant=vendor_a)
    rule_create(tenant=vendor_a, data={"name": "All of Germany", "strategy": "round_robin",
                                       "conditions": [{"field": "country", "op": "eq",
                                                       "value": "DE"}]}, actor=SYSTEM)
    ruleset_activate(tenant=vendor_a, actor=SYSTEM)
    rep = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_REP, partner=partner)
    lead = lead_intake(tenant=vendor_a, fields=FIELDS, actor=SYSTEM)
    return lead, partner, rep


def _page(client, membership, lead):
    client.force_login(membership.user)
    return client.get(reverse("portal:lead", args=[membership.tenant.slug, lead.public_id]))


def test_an_offered_lead_opens_for_the_partner_without_who_asked(client, offered):
    lead, _partner, rep = offered
    response = _page(client, rep, lead)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Berger Maschinenbau" in body
    assert 'data-testid="contact-hidden"' in body
    for secret in ("Julia Berger", "j.berger@berger-mb.de", "120 users"):
        assert secret not in body


def test_after_accepting_the_partner_sees_the_contact(client, offered):
    lead, partner, rep = offered
    offer = Offer.objects.get(lead=lead, status=OfferStatus.OPEN)
    offer_accept(offer=offer, actor=Actor.for_user(rep.user))
    body = _page(client, rep, lead).content.decode()
    assert "Julia Berger" in body and "j.berger@berger-mb.de" in body
    assert 'data-testid="contact-hidden"' not in body


def test_another_partners_people_get_404(client, vendor_a, offered):
    lead, _partner, _rep = offered
    other = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_ADMIN,
                              partner=PartnerFactory(tenant=vendor_a))
    assert _page(client, other, lead).status_code == 404


def test_the_partners_people_are_notified_of_the_offer_and_it_links_to_the_lead(
        client, offered):
    lead, _partner, rep = offered
    events_dispatch()
    notification = Notification.objects.get(recipient=rep.user)
    assert notification.kind == NotificationKind.LEAD_OFFERED
    assert "Berger Maschinenbau" in notification.text
    client.force_login(rep.user)
    response = client.get(reverse("portal:notification",
                                  args=[rep.tenant.slug, notification.public_id]))
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200


def test_the_partner_reads_why_the_lead_came_to_it(client, offered):
    lead, _partner, rep = offered
    body = _page(client, rep, lead).content.decode()
    assert 'data-testid="why-you"' in body
    assert "It matches “All of Germany”, and it was your turn in the rotation" in body
    assert 'data-testid="routing"' not in body  # the full trace is for the vendor


def test_a_manager_reads_the_whole_decision(client, vendor_a, offered):
    lead, partner, _rep = offered
    manager = MembershipFactory(tenant=vendor_a, role=Role.CHANNEL_MANAGER)
    body = _page(client, manager, lead).content.decode()
    assert 'data-testid="routing"' in body
    assert "Rule “All of Germany” matched." in body
    assert f"Chosen: {partner.name}." in body
