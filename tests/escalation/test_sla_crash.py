"""A sweeper killed with SIGKILL in the middle of a batch loses nothing and repeats nothing:
the batch is rolled back with its transaction, and the next sweep applies every step once
(PostgreSQL, a real second process)."""

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from escalation.models import SlaPolicy, SlaStep
from escalation.sla import offers_escalate
from leads.models import LeadEvent
from routing.models import Offer
from routing.rules import rule_create, ruleset_activate
from routing.services import lead_intake
from tenancy.actors import SYSTEM
from tests.factories import PartnerFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]

# The sweeper process: every step pauses inside its transaction, after writing its event and
# before advancing the offer, so the kill lands in the middle of a step.
SWEEPER = textwrap.dedent("""
    import time
    import django
    django.setup()
    import leads.services as lead_services
    real = lead_services.event_write
    def slow(*args, **kwargs):
        event = real(*args, **kwargs)
        print("step", flush=True)
        time.sleep(0.3)
        return event
    lead_services.event_write = slow
    from escalation.sla import offers_escalate
    offers_escalate(limit=1000)
""")


def _database_url() -> str:
    settings = connection.settings_dict
    return (f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")


def test_a_sweeper_killed_mid_batch_loses_and_repeats_nothing():
    tenant = TenantFactory()
    PartnerFactory(tenant=tenant)
    policy = SlaPolicy.objects.create(tenant=tenant, name="Now", is_default=True,
                                      count="wall_clock")
    SlaStep.objects.create(tenant=tenant, policy=policy, after_minutes=60, action="remind")
    rule_create(tenant=tenant, data={"name": "All"}, actor=SYSTEM)
    ruleset_activate(tenant=tenant, actor=SYSTEM)
    for n in range(20):
        lead_intake(tenant=tenant, actor=SYSTEM, fields={"contact_email": f"k{n}@c{n}.example"})
    Offer.objects.filter(tenant=tenant).update(
        due_at=timezone.now() - datetime.timedelta(minutes=1))

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1",
           "DATABASE_URL": _database_url(), "LOG_LEVEL": "CRITICAL"}
    env.pop("REDIS_URL", None)
    sweeper = subprocess.Popen([sys.executable, "-c", SWEEPER], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(5):  # five steps into the batch's transaction
            assert sweeper.stdout.readline().strip() == "step"
        os.kill(sweeper.pid, signal.SIGKILL)
        sweeper.wait(10)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
    assert sweeper.returncode == -signal.SIGKILL
    time.sleep(0.5)  # PostgreSQL notices the dropped connection and rolls it back

    # The batch died with its transaction: nothing of it is left, everything is due again.
    assert not Offer.objects.filter(tenant=tenant, sla_step=1).exists()
    assert not LeadEvent.objects.filter(tenant=tenant, kind="sla_reminded").exists()
    assert offers_escalate(limit=1000) == 20
    assert set(Offer.objects.filter(tenant=tenant).values_list("sla_step", flat=True)) == {1}
    reminded = LeadEvent.objects.filter(tenant=tenant, kind="sla_reminded")
    assert reminded.count() == 20
    assert reminded.values("lead").distinct().count() == 20
