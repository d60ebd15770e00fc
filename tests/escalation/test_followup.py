"""Stall follow-up of accepted leads: the partner is reminded after a gap without activity,
the managers after a second, the lead released after a third if the policy says so; any
activity or stage change restarts the clock."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from escalation.models import SlaPolicy
from escalation.sla import leads_follow_up
from leads.models import LeadStatus
from leads.services import activity_log, lead_mark_won
from notifications.models import Notification, NotificationKind
from notifications.services import events_dispatch
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake, offer_accept
from tenancy.actors import SYSTEM
from tenancy.roles import Role
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def accepted(vendor_a):
    """A lead accepted by one of two partners on 2 November, under a 7-day policy that
    releases after the third gap."""
    SlaPolicy.objects.create(tenant=vendor_a, name="Weekly", is_default=True,
                             stall_gap_days=7, stall_release=True)
    for _ in range(2):
        PartnerFactory(tenant=vendor_a)
    rule_create(tenant=vendor_a, data={"name": "All"}, actor=SYSTEM)
    ruleset_activate(tenant=vendor_a, actor=SYSTEM)
    with time_machine.travel(START, tick=False):
        lead = lead_intake(tenant=vendor_a, actor=SYSTEM,
                           fields={"contact_email": "a@stall.example"})
        offer = Offer.objects.get(lead=lead, status=OfferStatus.OPEN)
        offer_accept(offer=offer, actor=SYSTEM)
    lead.refresh_from_db()
    return lead, offer.partner


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return leads_follow_up()


def test_accepting_starts_the_clock_with_the_policys_gap(accepted):
    lead, _partner = accepted
    assert lead.followup_due_at == START + 7 * DAY and lead.followup_step == 0
    assert lead.followup_release is True


def test_reminder_then_managers_then_release(vendor_a, accepted):
    lead, partner = accepted
    rep = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_REP, partner=partner)
    manager = MembershipFactory(tenant=vendor_a, role=Role.CHANNEL_MANAGER)

    assert sweep_at(START + 7 * DAY - datetime.timedelta(minutes=1)) == 0
    assert sweep_at(START + 7 * DAY) == 1
    assert sweep_at(START + 7 * DAY) == 0  # once
    events_dispatch()
    assert Notification.objects.filter(recipient=rep.user,
                                       kind=NotificationKind.LEAD_FOLLOWUP).count() == 1

    assert sweep_at(START + 14 * DAY) == 1
    events_dispatch()
    stalled = Notification.objects.get(recipient=manager.user,
                                       kind=NotificationKind.LEAD_STALLED)
    assert partner.name in stalled.text

    assert sweep_at(START + 21 * DAY) == 1
    lead.refresh_from_db()
    assert lead.status == LeadStatus.OFFERED and lead.partner is None
    (again,) = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN)
    assert again.partner != partner
    kinds = list(lead.events.values_list("kind", flat=True).order_by("id"))
    assert kinds[-4:] == ["followup_reminded", "followup_escalated", "released", "offered"]


def test_activity_restarts_the_clock(accepted):
    lead, _partner = accepted
    with time_machine.travel(START + 5 * DAY, tick=False):
        activity_log(lead=lead, kind="call", body="Demo booked", occurred_at=None,
                     actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.followup_due_at == START + 12 * DAY and lead.followup_step == 0
    assert sweep_at(START + 7 * DAY) == 0


def test_without_release_the_follow_up_stops_after_the_managers(vendor_a, accepted):
    lead, _partner = accepted
    lead.followup_release = False
    lead.save(update_fields=["followup_release"])
    sweep_at(START + 7 * DAY)
    sweep_at(START + 14 * DAY)
    lead.refresh_from_db()
    assert lead.followup_due_at is None and lead.status == LeadStatus.ACCEPTED


def test_closing_the_lead_stops_the_clock(accepted):
    lead, _partner = accepted
    lead_mark_won(lead=lead, order_value=1000, closed_on=timezone.localdate(), actor=SYSTEM)
    lead.refresh_from_db()
    assert lead.followup_due_at is None
    assert sweep_at(START + 30 * DAY) == 0
