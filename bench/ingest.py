"""Lead ingest through the real HTTP API, against floors measured in the same run.

    python -m bench.ingest [--quick]

Starts gunicorn on loopback against PostgreSQL (DATABASE_URL, default a `leadshare_bench`
database, created if missing) with Redis as broker and cache (BENCH_REDIS_URL, default database
14; if no Redis answers there, or BENCH_REDIS_URL is empty, the app's embedded default: a
per-process cache and the filesystem broker in a temporary directory). Removes the vendors of
earlier runs, creates a fresh one with partners and an API key, then measures:

- floor_per_s: the same server answering an authenticated POST that parses the same JSON and
  inserts one row and nothing else (bench/urls.py), same clients, same bodies;
- single_leads_per_s, single_p50_ms, single_p99_ms: POST /api/v1/leads/, one lead each;
- bulk_leads_per_s: POST /api/v1/leads/bulk/ with 1,000 leads per request;
- bulk_floor_per_s: a bare `Lead.objects.bulk_create` of the same lead rows, in-process;
- queries_per_single_create: SQL statements of one create of a new customer's lead, BEGIN
  and COMMIT included, in-process after a warm-up (as a request in a running server pays).

Floor and real runs alternate and each figure is the best of its rounds, so a noisy moment
on a shared machine hurts both sides alike. Goals (issue #3): single >= 0.5 x floor, bulk >=
0.25 x bulk floor.
"""

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time

from bench._harness import (
    DEFAULT_DATABASE_URL,
    Server,
    bench_env,
    database_ensure,
    django_setup,
    exit_on_sigterm,
    post_load,
    redis_queue_clear,
    redis_reachable,
    report,
)

BENCH_SLUG = re.compile(r"^bench-[0-9]+$")

FREE_MAIL = ["gmail.com", "web.de", "gmx.de", "outlook.com", "yahoo.com"]
COUNTRIES = [("DE", "DE-BY"), ("DE", "DE-NW"), ("AT", ""), ("CH", ""), ("US", "US-CA")]


def lead_bodies(count: int, *, seed: int, prefix: str) -> list[dict]:
    """Realistic, varied leads: new companies, repeat companies (duplicates), free mail."""
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.15 and n > 10:
            domain = f"{prefix}-co{rng.randrange(n)}.example"  # an earlier customer again
        elif roll < 0.25:
            domain = rng.choice(FREE_MAIL)
        else:
            domain = f"{prefix}-co{n}.example"
        country, region = rng.choice(COUNTRIES)
        bodies.append({
            "external_id": f"{prefix}-{n}",
            "source_kind": rng.choice(["platform", "co_marketing", "marketplace"]),
            "campaign_id": f"2026-q{rng.randint(1, 4)}",
            "utm_source": rng.choice(["google", "linkedin", "newsletter"]),
            "utm_medium": "cpc",
            "contact_name": f"Person {n}",
            "contact_email": f"person{n}@{domain}",
            "contact_phone": f"+49 89 {rng.randint(1000000, 9999999)}",
            "company_name": f"Company {n} GmbH",
            "country": country,
            "region": region,
            "postcode": f"{rng.randint(10000, 99999)}",
            "language": "de" if country in ("DE", "AT", "CH") else "en",
            "industry": rng.choice(["manufacturing", "wholesale", "retail"]),
            "deal_size": f"{rng.randint(5, 200) * 1000}.00",
            "currency": "EUR",
            "message": "We are looking for an ERP system for our production. " * 3,
            "consent_basis": "consent",
            "consent_text": "I agree that a partner may contact me about my request.",
            "consent_captured_at": "2026-11-20T09:00:00Z",
            "consent_source": "https://www.example.com/contact",
        })
    return bodies



def _vendor(run_id: str):
    from api.services import api_key_create
    from partners.models import Partner
    from tenancy.actors import Actor
    from tenancy.models import Tenant

    # Every run starts from the same database: earlier runs' vendors (and their leads) go.
    earlier = [t.pk for t in Tenant.objects.filter(slug__startswith="bench-")
               if BENCH_SLUG.match(t.slug)]
    if earlier:
        Tenant.objects.filter(pk__in=earlier).delete()
    tenant = Tenant.objects.create(slug=f"bench-{run_id}", name=f"Bench {run_id}",
                                   currency="EUR")
    Partner.objects.bulk_create([
        Partner(tenant=tenant, name=f"Partner {n}", external_id=f"BP-{n}")
        for n in range(50)
    ])
    _key, secret = api_key_create(tenant=tenant, name="bench", actor=Actor(label="bench"))
    return tenant, secret


def _queries_per_create(secret: str, bodies: list[dict]) -> int:
    """Statements of the last create, the ones before warm this process (custom field cache,
    the key's last-used stamp) as the server's workers are warm."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for body in bodies:
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/v1/leads/", json.dumps(body),
                                   content_type="application/json")
        assert response.status_code == 201, response.content
    return len(queries)


def _bulk_floor(tenant, items: list[dict], rounds: int) -> float:
    """Rows per second of a bare bulk_create of the same lead rows (no validation, no
    accounts, no events): what PostgreSQL costs for the rows themselves."""
    from leads.models import Lead

    fields = {f.name for f in Lead._meta.concrete_fields}
    best = 0.0
    for r in range(rounds):
        rows = [Lead(tenant=tenant, **{k: v for k, v in item.items() if k in fields},
                     email_key=item["contact_email"].casefold())
                for item in items]
        for row in rows:
            row.external_id = f"floor-{r}-{row.external_id}"
        started = time.perf_counter()
        Lead.objects.bulk_create(rows)
        best = max(best, len(rows) / (time.perf_counter() - started))
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of a minute or two")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not database_url.startswith("postgres"):
        print("bench.ingest needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    exit_on_sigterm()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    if redis_url and not redis_reachable(redis_url):
        print(f"no Redis at {redis_url}: running with the embedded cache and broker",
              file=sys.stderr)
        redis_url = ""
    var_dir = "" if redis_url else tempfile.mkdtemp(prefix="leadshare-bench-")
    try:
        return _run(args, database_url, redis_url, var_dir)
    finally:
        if redis_url:
            redis_queue_clear(redis_url)
        if var_dir:
            shutil.rmtree(var_dir, ignore_errors=True)


def _run(args, database_url: str, redis_url: str, var_dir: str) -> int:
    env = bench_env(database_url, redis_url, var_dir)
    database_ensure(database_url)
    django_setup(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run_id = str(int(time.time()))
    tenant, secret = _vendor(run_id)

    singles = 300 if args.quick else 1500
    rounds = 2 if args.quick else 3
    batches = 2 if args.quick else 4
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    floor, single = [], []
    with Server(env) as server:
        # Warm-up: imports, connections, caches of both workers.
        warm = [json.dumps(b).encode() for b in lead_bodies(60, seed=1, prefix=f"w{run_id}")]
        post_load(server.port, "/api/v1/_bench/floor/", warm, headers, args.clients, 201)
        post_load(server.port, "/api/v1/leads/", warm, headers, args.clients, 201)
        for r in range(rounds):
            bodies = [json.dumps(b).encode()
                      for b in lead_bodies(singles, seed=10 + r, prefix=f"s{r}-{run_id}")]
            floor.append(post_load(server.port, "/api/v1/_bench/floor/", bodies, headers,
                                   args.clients, 201))
            single.append(post_load(server.port, "/api/v1/leads/", bodies, headers,
                                    args.clients, 201))
        bulk_rates = []
        for b in range(batches):
            items = lead_bodies(1000, seed=100 + b, prefix=f"b{b}-{run_id}")
            body = json.dumps({"leads": items}).encode()
            result = post_load(server.port, "/api/v1/leads/bulk/", [body], headers, 1, 207)
            bulk_rates.append(1000 * result["per_s"])
    bulk_floor = _bulk_floor(tenant, lead_bodies(1000, seed=100, prefix=f"f-{run_id}"),
                             rounds=batches)
    # Two leads of new customers (business mail): the first warms, the second is counted.
    probes = lead_bodies(2, seed=7, prefix=f"q-{run_id}")
    for n, probe in enumerate(probes):
        probe["contact_email"] = f"buyer@q{n}-{run_id}.example"
    queries = _queries_per_create(secret, probes)

    best_floor = max(f["per_s"] for f in floor)
    best_single = max(single, key=lambda s: s["per_s"])
    figures = {
        "single_leads_per_s": round(best_single["per_s"], 1),
        "floor_per_s": round(best_floor, 1),
        "single_vs_floor": round(best_single["per_s"] / best_floor, 3),
        "single_p50_ms": round(best_single["p50_ms"], 1),
        "single_p99_ms": round(best_single["p99_ms"], 1),
        "bulk_leads_per_s": round(max(bulk_rates), 1),
        "bulk_floor_per_s": round(bulk_floor, 1),
        "bulk_vs_floor": round(max(bulk_rates) / bulk_floor, 3),
        "queries_per_single_create": queries,
        "clients": args.clients,
    }
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    print(f"\ngunicorn 2 sync workers, {args.clients} client threads, {os.cpu_count()} cores, "
          f"PostgreSQL {pg_version}, "
          f"{'Redis cache and broker' if redis_url else 'no Redis (embedded cache and broker)'}")
    report("ingest", [
        ("single_leads_per_s", f"{figures['single_leads_per_s']}", "POST /api/v1/leads/"),
        ("floor_per_s", f"{figures['floor_per_s']}", "same stack, one INSERT"),
        ("single_vs_floor", f"{figures['single_vs_floor']}", "goal >= 0.5"),
        ("single_p50_ms", f"{figures['single_p50_ms']}", f"{args.clients} clients"),
        ("single_p99_ms", f"{figures['single_p99_ms']}", ""),
        ("bulk_leads_per_s", f"{figures['bulk_leads_per_s']}", "1,000 leads per request"),
        ("bulk_floor_per_s", f"{figures['bulk_floor_per_s']}", "bare bulk_create, in-process"),
        ("bulk_vs_floor", f"{figures['bulk_vs_floor']}", "goal >= 0.25"),
        ("queries_per_single_create", f"{queries}", "constant: tests/leads/test_query_count.py"),
    ], figures)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the server is stopped by then (Server.__exit__)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
