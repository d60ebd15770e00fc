"""Settings from the environment, the stable commands, and production checks."""

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from leads.models import Lead, LeadEvent
from partners.models import Partner
from routing.models import Decision, Offer
from tenancy.models import Membership, Tenant, User

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args, env_overrides: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL",
                        "DJANGO_SETTINGS_MODULE", "LEADSHARE_INSECURE_HTTP",
                        # set for the browser tests in this process; deploy checks refuse it
                        "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({"LEADSHARE_VAR_DIR": str(tmp_path), **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql-ish:/nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("EMAIL_PORT", "twenty-five"),
        ("SQLITE_TIMEOUT", "0"),
        ("API_RATE_LIMIT", "lots"),
        ("API_MAX_BODY_BYTES", "12"),
    ],
)
def test_bad_value_stops_startup_naming_the_variable(tmp_path, variable, value):
    result = _manage("check", env_overrides={"DEBUG": "1", variable: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_key_in_production_is_named(tmp_path):
    result = _manage("check", env_overrides={"DEBUG": "0"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_overrides={
            "DEBUG": "0",
            "SECRET_KEY": "a-very-long-and-random-production-secret-key-8f3k2j4h5g6f7d8s9a0",
            "ALLOWED_HOSTS": "leads.example.com",
            "BASE_URL": "https://leads.example.com",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_default_uses_sqlite_wal_and_filesystem_broker(tmp_path):
    code = (
        "import django, os; django.setup();"
        "from django.conf import settings; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); "
        "print(settings.DATABASES['default']['ENGINE'], c.fetchone()[0],"
        " settings.DATABASES['default']['OPTIONS']['transaction_mode'], settings.CELERY_BROKER_URL)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DEBUG": "1", "LEADSHARE_VAR_DIR": str(tmp_path),
                "DJANGO_SETTINGS_MODULE": "config.settings"})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == [
        "django.db.backends.sqlite3", "wal", "IMMEDIATE", "filesystem://"
    ], result.stderr


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug():
    with pytest.raises(CommandError):
        call_command("seed_demo")


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_has_the_documented_logins(client):
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=open(os.devnull, "w"))
        counts = (Tenant.objects.count(), Partner.objects.count(), User.objects.count(),
                  Membership.objects.count(), Lead.objects.count(), LeadEvent.objects.count())
        call_command("seed_demo", stdout=open(os.devnull, "w"))
    assert counts == (Tenant.objects.count(), Partner.objects.count(), User.objects.count(),
                      Membership.objects.count(), Lead.objects.count(),
                      LeadEvent.objects.count())
    northwind = Tenant.objects.get(slug="northwind")
    assert northwind.time_zone == "Europe/Berlin"
    assert Tenant.objects.get(slug="contoso").time_zone == "America/New_York"
    assert 28 <= Partner.objects.for_tenant(northwind).count() <= 35
    tiers = set(Partner.objects.for_tenant(northwind).values_list("tier__name", flat=True))
    assert tiers == {"Gold", "Silver", "Bronze"}
    # Demo leads went through the services (a duplicate, a held lead, one `created` event
    # each) and through the demo's routing rules: every strategy's state shows up.
    leads = Lead.objects.for_tenant(northwind)
    assert leads.filter(duplicate_of__isnull=False).count() >= 1
    statuses = Counter(leads.values_list("status", flat=True))
    assert statuses["held"] == 1 and statuses["in_review"] == 1 and statuses["accepted"] == 1
    assert statuses["offered"] == leads.count() - 3 and "received" not in statuses
    events = LeadEvent.objects.for_tenant(northwind)
    assert events.filter(kind="created").count() == leads.count()
    assert events.filter(kind="declined").count() == 1
    assert Offer.objects.filter(lead__tenant=northwind, is_pool=True).count() > 1
    assert set(Decision.objects.filter(lead__tenant=northwind).exclude(rule=None)
               .values_list("rule__strategy", flat=True)) == {
        "round_robin", "weighted", "performance", "named_accounts", "open_pool"}
    anna = User.objects.get(email="anna@alpine-it.example")
    assert set(anna.memberships.values_list("tenant__slug", "partner__name")) == {
        ("northwind", "Alpine IT"), ("contoso", "Alpine IT")
    }
    for email in ["manager@northwind.example", "analyst@northwind.example",
                  "anna@alpine-it.example", "ben@baltic-systems.example",
                  "manager@contoso.example"]:
        client.logout()
        response = client.post(reverse("account_login"),
                               {"login": email, "password": "leadshare-demo"})
        assert response.status_code == 302 and response["Location"] == "/", email


@pytest.mark.django_db
def test_createtenant_prints_a_working_set_password_link(client, capsys):
    call_command("createtenant", "acme", "Acme Software", "--owner", "Olga@Acme.example",
                 "--time-zone", "Europe/Vienna")
    out = capsys.readouterr().out
    link = re.search(r"https?://\S+", out).group(0)
    path = "/" + link.split("/", 3)[3]
    tenant = Tenant.objects.get(slug="acme")
    owner = User.objects.get(email="olga@acme.example")
    assert owner.memberships.get().role == "owner"
    assert not owner.has_usable_password()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else path
    new_password = "glacier-orbit-9135-plain"
    response = client.post(form_path, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(new_password)
    assert client.login(email="olga@acme.example", password=new_password)
    assert client.get(reverse("portal:home", args=[tenant.slug])).status_code == 200


@pytest.mark.django_db
def test_createtenant_refuses_reserved_slug():
    with pytest.raises(CommandError, match="reserved"):
        call_command("createtenant", "api", "X", "--owner", "x@example.org")
    assert not Tenant.objects.filter(slug="api").exists()


def test_migrations_are_complete():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
