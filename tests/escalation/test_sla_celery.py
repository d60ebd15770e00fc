"""The SLA timers with the real moving parts (Redis, an in-process Celery worker and beat):
an offer that falls due is reminded, then reassigned, and the reminder email goes out."""

import time

import pytest
from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from config.celery import app
from escalation.models import SlaPolicy, SlaStep
from routing.models import Offer, OfferStatus
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake
from tenancy.actors import SYSTEM
from tenancy.roles import Role
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _wait_for(check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def test_beat_and_a_worker_remind_then_reassign_a_due_offer(tmp_path):
    assert app.conf.broker_url.endswith("/15")  # the suite's own Redis database
    tenant = TenantFactory()
    first, _second = PartnerFactory(tenant=tenant), PartnerFactory(tenant=tenant)
    rep = MembershipFactory(tenant=tenant, role=Role.PARTNER_REP, partner=first)
    policy = SlaPolicy.objects.create(tenant=tenant, name="Now", is_default=True,
                                      count="wall_clock")
    SlaStep.objects.create(tenant=tenant, policy=policy, position=0, after_minutes=0,
                           action="remind")
    SlaStep.objects.create(tenant=tenant, policy=policy, position=1, after_minutes=0,
                           action="reassign")
    rule_create(tenant=tenant, data={"name": "All"}, actor=SYSTEM)
    ruleset_activate(tenant=tenant, actor=SYSTEM)
    lead = lead_intake(tenant=tenant, actor=SYSTEM, fields={"contact_email": "a@due.example",
                                                            "company_name": "Due GmbH"})
    offer = Offer.objects.get(lead=lead, status=OfferStatus.OPEN)
    assert offer.partner == first and offer.due_at <= timezone.now()
    mail.outbox.clear()

    beat = EmbeddedService(app, thread=True, scheduler_cls="celery.beat:PersistentScheduler",
                           schedule_filename=str(tmp_path / "beat-schedule"))
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        beat.start()
        try:
            reassigned = _wait_for(lambda: Offer.objects.filter(
                lead=lead, status=OfferStatus.OPEN).exclude(partner=first).exists(), 60)
            emailed = _wait_for(lambda: any(rep.user.email in m.to for m in mail.outbox), 30)
        finally:
            beat.stop()

    assert reassigned, list(Offer.objects.filter(lead=lead).values("partner", "status"))
    offer.refresh_from_db()
    assert offer.status == OfferStatus.EXPIRED
    assert emailed
    reminder = next(m for m in mail.outbox if rep.user.email in m.to)
    assert "Due GmbH" in reminder.body
    kinds = list(lead.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "offered", "sla_reminded", "expired", "offered"]
