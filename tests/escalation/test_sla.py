"""SLA timers on offers: due times from the policy and the partner's business hours, the
sweeper applying remind, notify and reassign steps once each, expiry streaks, retries."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from escalation.models import BusinessCalendar, SlaPolicy, SlaStep
from escalation.sla import offers_escalate
from leads.models import LeadStatus
from notifications.models import Notification, NotificationKind
from notifications.services import events_dispatch
from partners.models import Partner
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake, offer_accept
from tenancy.actors import SYSTEM
from tenancy.roles import Role
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_1630 = datetime.datetime(2026, 11, 20, 16, 30, tzinfo=BERLIN)


def policy(tenant, *steps, count="business_hours", **fields):
    sla = SlaPolicy.objects.create(tenant=tenant, name=f"Policy {SlaPolicy.objects.count()}",
                                   is_default=True, count=count, **fields)
    for position, (minutes, action) in enumerate(steps):
        SlaStep.objects.create(tenant=tenant, policy=sla, position=position,
                               after_minutes=minutes, action=action)
    return sla


@pytest.fixture
def vendor(vendor_a):
    """Two partners in one round-robin rule, a Berlin calendar 9-17 as the default."""
    BusinessCalendar.objects.create(tenant=vendor_a, name="Berlin office", is_default=True,
                                    time_zone="Europe/Berlin")
    for _ in range(2):
        PartnerFactory(tenant=vendor_a)
    rule_create(tenant=vendor_a, data={"name": "All", "strategy": "round_robin"}, actor=SYSTEM)
    ruleset_activate(tenant=vendor_a, actor=SYSTEM)
    return vendor_a


def offer_lead(tenant, n=0):
    lead = lead_intake(tenant=tenant, actor=SYSTEM, fields={
        "contact_email": f"buyer{n}@c{n}.example", "company_name": f"Customer {n}"})
    return lead, Offer.objects.get(lead=lead, status=OfferStatus.OPEN)


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return offers_escalate()


def test_the_first_step_is_due_after_four_business_hours_of_the_partner(vendor):
    policy(vendor, (240, "remind"), (480, "reassign"))
    with time_machine.travel(FRIDAY_1630, tick=False):
        _lead, offer = offer_lead(vendor)
    assert offer.due_at == datetime.datetime(2026, 11, 23, 12, 30, tzinfo=BERLIN)
    assert offer.sla_step == 0 and offer.sla_policy.is_default


def test_a_partner_in_new_york_counts_its_own_hours(vendor):
    policy(vendor, (240, "remind"))
    for partner in Partner.objects.filter(tenant=vendor):
        partner.time_zone = "America/New_York"
        partner.save()
    with time_machine.travel(FRIDAY_1630, tick=False):
        _lead, offer = offer_lead(vendor)
    assert offer.due_at == datetime.datetime(2026, 11, 20, 14, 30,
                                             tzinfo=ZoneInfo("America/New_York"))


def test_remind_then_reassign_each_once(vendor):
    policy(vendor, (60, "remind"), (120, "reassign"))
    rep_partner = None
    with time_machine.travel(datetime.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN), tick=False):
        lead, offer = offer_lead(vendor)
        rep_partner = offer.partner
    rep = MembershipFactory(tenant=vendor, role=Role.PARTNER_REP, partner=rep_partner)

    assert sweep_at(datetime.datetime(2026, 11, 24, 9, 59, tzinfo=BERLIN)) == 0
    assert sweep_at(datetime.datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)) == 1
    assert sweep_at(datetime.datetime(2026, 11, 24, 10, 5, tzinfo=BERLIN)) == 0  # once
    offer.refresh_from_db()
    assert offer.sla_step == 1 and offer.due_at == datetime.datetime(
        2026, 11, 24, 11, 0, tzinfo=BERLIN)
    events_dispatch()
    reminder = Notification.objects.get(recipient=rep.user, kind=NotificationKind.LEAD_REMINDER)
    assert "still waits for your answer" in reminder.text

    assert sweep_at(datetime.datetime(2026, 11, 24, 11, 0, tzinfo=BERLIN)) == 1
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED and offer.due_at is None
    (next_offer,) = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN)
    assert next_offer.partner != rep_partner and next_offer.sla_step == 0
    kinds = list(lead.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "offered", "sla_reminded", "expired", "offered"]
    # Round robin walked on from the partner that let it expire; that one is never asked
    # again for this lead (it is "passed" if the walk comes round to it).
    assert next_offer.decision.trace["state"] == {"last": rep_partner.pk}
    rep_partner.refresh_from_db()
    assert rep_partner.expiry_streak == 1


def test_notify_tells_the_managers(vendor):
    policy(vendor, (30, "notify"), count="wall_clock")
    manager = MembershipFactory(tenant=vendor, role=Role.CHANNEL_MANAGER)
    start = datetime.datetime(2026, 11, 24, 22, 0, tzinfo=BERLIN)  # wall clock: at night too
    with time_machine.travel(start, tick=False):
        lead, offer = offer_lead(vendor)
    assert sweep_at(start + datetime.timedelta(minutes=30)) == 1
    events_dispatch()
    notification = Notification.objects.get(recipient=manager.user,
                                            kind=NotificationKind.SLA_ESCALATED)
    assert offer.partner.name in notification.text
    offer.refresh_from_db()
    assert offer.due_at is None and offer.status == OfferStatus.OPEN  # no steps left


def test_an_answered_offer_has_no_timer(vendor):
    policy(vendor, (60, "reassign"))
    with time_machine.travel(datetime.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN), tick=False):
        lead, offer = offer_lead(vendor)
        offer_accept(offer=offer, actor=SYSTEM)
    offer.refresh_from_db()
    assert offer.due_at is None
    assert sweep_at(datetime.datetime(2026, 11, 25, 9, 0, tzinfo=BERLIN)) == 0
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ACCEPTED


def test_a_partner_letting_offers_expire_in_a_row_is_reported_and_paused(vendor):
    policy(vendor, (60, "reassign"), count="wall_clock", expiry_streak_notify=2,
           expiry_streak_pause=True)
    manager = MembershipFactory(tenant=vendor, role=Role.CHANNEL_MANAGER)
    slow = Partner.objects.filter(tenant=vendor).order_by("pk").first()
    other = Partner.objects.filter(tenant=vendor).exclude(pk=slow.pk).get()
    other.paused = True
    other.save()  # only `slow` gets offers
    start = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    for n in range(2):
        with time_machine.travel(start, tick=False):
            _lead, offer = offer_lead(vendor, n)
        assert offer.partner == slow
        sweep_at(start + datetime.timedelta(hours=1))
    slow.refresh_from_db()
    assert slow.expiry_streak == 2 and slow.paused
    note = Notification.objects.get(recipient=manager.user, kind=NotificationKind.EXPIRY_STREAK)
    assert "2" in note.text and slow.name in note.text


def test_a_step_that_fails_is_pushed_forward_and_tried_again(vendor, monkeypatch):
    policy(vendor, (60, "remind"), count="wall_clock")
    start = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    with time_machine.travel(start, tick=False):
        _lead, offer = offer_lead(vendor)

    def broken(*args, **kwargs):
        raise RuntimeError("mail server on fire")

    monkeypatch.setattr("leads.services.event_write", broken)
    assert sweep_at(start + datetime.timedelta(hours=1)) == 0
    offer.refresh_from_db()
    assert offer.sla_attempts == 1 and offer.sla_step == 0
    assert offer.due_at == start + datetime.timedelta(hours=1, seconds=30)
    monkeypatch.undo()
    assert sweep_at(start + datetime.timedelta(hours=1, seconds=30)) == 1
