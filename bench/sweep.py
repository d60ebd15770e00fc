"""The SLA sweeper: throughput, lateness and the cost of an empty sweep.

    python -m bench.sweep [--quick]

Runs in-process against PostgreSQL (DATABASE_URL, default a `leadshare_bench` database,
created if missing and migrated), like the Celery task would, one sweep after another.

- escalations_per_s: a batch of already-due offers whose step is `reassign` (each one expires
  and its lead is routed to the next partner, in its own transaction), swept until none is
  left (10,000 offers; --quick 2,000).
- lateness_p50_s, lateness_p99_s: due times spread evenly over 60 s (10,000 of 100,000 open
  offers; --quick 2,000 of 20,000), the sweeper running every `sweep_interval_s`
  (SLA_SWEEP_INTERVAL_S, default 10); lateness = when the step was applied minus when it
  was due (steps are `remind`, recorded by their event's time).
- empty_sweep_ms_10k, empty_sweep_ms_1m: one sweep with nothing due among 10,000 and
  1,000,000 open offers (--quick: 10,000 and 100,000; the figure names stay): the partial
  index on due times makes it one index probe. Goal: 1m <= 1.5 x 10k.

Goals (issue #6): escalations_per_s >= 1,000; lateness_p99_s <= interval + 2 s.
"""

import argparse
import datetime
import os
import statistics
import sys
import time

from bench._harness import DEFAULT_DATABASE_URL, bench_env, database_ensure, django_setup, report


def _vendor(run_id: str, action: str, partners: int = 50):
    from escalation.models import SlaPolicy, SlaStep
    from partners.models import Partner
    from routing.models import Offer
    from routing.rules import rule_create, ruleset_activate
    from tenancy.actors import Actor
    from tenancy.models import Tenant

    earlier = Tenant.objects.filter(slug__startswith=f"bench-sweep-{action}-")
    Offer.objects.filter(tenant__in=earlier).delete()
    Partner.objects.filter(tenant__in=earlier).delete()
    earlier.delete()
    tenant = Tenant.objects.create(slug=f"bench-sweep-{action}-{run_id}", name="Bench sweep")
    Partner.objects.bulk_create([Partner(tenant=tenant, name=f"Partner {n}")
                                 for n in range(partners)])
    policy = SlaPolicy.objects.create(tenant=tenant, name="Bench", is_default=True,
                                      count="wall_clock")
    SlaStep.objects.create(tenant=tenant, policy=policy, after_minutes=60, action=action)
    actor = Actor(label="bench")
    rule_create(tenant=tenant, data={"name": "All", "strategy": "round_robin"}, actor=actor)
    ruleset_activate(tenant=tenant, actor=actor)
    tenant.refresh_from_db()
    return tenant, policy


def _open_offers(tenant, policy, count: int, due: list[datetime.datetime | None]):
    """`count` offered leads with one open offer each, inserted in bulk (as routing would
    leave them); `due[i]` is offer i's due time (None: not due for an hour)."""
    from leads.models import Lead, LeadStatus
    from partners.models import Partner
    from routing.models import Offer

    partner_ids = list(Partner.objects.filter(tenant=tenant).values_list("pk", flat=True))
    now = datetime.datetime.now(datetime.UTC)
    later = now + datetime.timedelta(hours=1)
    chunk = 20000
    for start in range(0, count, chunk):
        leads = Lead.objects.bulk_create([
            Lead(tenant=tenant, status=LeadStatus.OFFERED, contact_email=f"s{n}@bench.example",
                 email_key=f"s{n}@bench.example", created_at=now, updated_at=now)
            for n in range(start, min(count, start + chunk))])
        Offer.objects.bulk_create([
            Offer(tenant=tenant, lead=lead, partner_id=partner_ids[n % len(partner_ids)],
                  sla_policy=policy, sla_step=0, offered_at=now,
                  due_at=due[start + n] if due and due[start + n] else later)
            for n, lead in enumerate(leads)])


def _escalations(run_id: str, count: int) -> float:
    from escalation.sla import offers_escalate

    tenant, policy = _vendor(run_id, "reassign")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    _open_offers(tenant, policy, count, [past] * count)
    started = time.perf_counter()
    done = 0
    while True:
        applied = offers_escalate(limit=500)
        if not applied:
            break
        done += applied
    elapsed = time.perf_counter() - started
    assert done == count, (done, count)
    return done / elapsed


def _lateness(run_id: str, total: int, due_count: int, interval: float) -> list[float]:
    from escalation.sla import offers_escalate
    from leads.models import LeadEvent

    tenant, policy = _vendor(run_id, "remind")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)
    due = [start + datetime.timedelta(seconds=60 * n / due_count) for n in range(due_count)]
    _open_offers(tenant, policy, total, due + [None] * (total - due_count))
    end = start + datetime.timedelta(seconds=60 + interval + 5)
    while datetime.datetime.now(datetime.UTC) < end:
        tick = time.monotonic()
        while offers_escalate(limit=2000):
            pass
        time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    lateness = [(at - datetime.datetime.fromisoformat(data["due_at"])).total_seconds()
                for at, data in LeadEvent.objects.filter(tenant=tenant, kind="sla_reminded")
                .values_list("created_at", "data")]
    assert len(lateness) == due_count, (len(lateness), due_count)
    return lateness


def _empty_sweep_ms(run_id: str, open_offers: int, rounds: int = 20) -> float:
    from escalation.sla import offers_escalate

    tenant, policy = _vendor(f"{run_id}{open_offers}", "remind")
    _open_offers(tenant, policy, open_offers, [])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_offer")
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        assert offers_escalate() == 0
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not database_url.startswith("postgres"):
        print("bench.sweep needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    import tempfile

    env = bench_env(database_url, "", tempfile.mkdtemp(prefix="leadshare-bench-sweep-"))
    env["LOG_LEVEL"] = "ERROR"
    database_ensure(database_url)
    django_setup(env)
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run_id = str(int(time.time()))
    interval = float(settings.SLA_SWEEP_INTERVAL_S)
    escalate_count = 2000 if args.quick else 10000
    rate = _escalations(run_id, escalate_count)
    lateness = _lateness(run_id, 20000 if args.quick else 100000,
                         2000 if args.quick else 10000, interval)
    empty_small = _empty_sweep_ms(run_id, 10000)
    empty_large = _empty_sweep_ms(run_id, 100000 if args.quick else 1000000)
    lateness.sort()
    figures = {
        "escalations_per_s": round(rate, 1),
        "lateness_p50_s": round(statistics.median(lateness), 2),
        "lateness_p99_s": round(lateness[int(len(lateness) * 0.99) - 1], 2),
        "sweep_interval_s": interval,
        "empty_sweep_ms_10k": round(empty_small, 2),
        "empty_sweep_ms_1m": round(empty_large, 2),
        "empty_ratio_1m_to_10k": round(empty_large / empty_small, 2),
    }
    report("sweep", [
        ("escalations_per_s", f"{figures['escalations_per_s']}",
         f"{escalate_count} due reassign steps; goal >= 1000"),
        ("lateness_p50_s", f"{figures['lateness_p50_s']}", "fired minus due"),
        ("lateness_p99_s", f"{figures['lateness_p99_s']}", f"goal <= {interval + 2:.0f}"),
        ("sweep_interval_s", f"{interval}", "SLA_SWEEP_INTERVAL_S"),
        ("empty_sweep_ms_10k", f"{figures['empty_sweep_ms_10k']}", "nothing due, 10,000 open"),
        ("empty_sweep_ms_1m", f"{figures['empty_sweep_ms_1m']}",
         "nothing due, " + ("100,000 open (--quick)" if args.quick else "1,000,000 open")),
        ("empty_ratio_1m_to_10k", f"{figures['empty_ratio_1m_to_10k']}", "goal <= 1.5"),
    ], figures)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
