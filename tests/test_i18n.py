from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.urls import reverse

from tests.factories import MembershipFactory

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))


def test_there_is_a_german_catalog():
    assert ROOT / "locale/de/LC_MESSAGES/django.po" in CATALOGS


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_empty_or_fuzzy_entry(path):
    with path.open("rb") as handle:
        catalog = read_po(handle)
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    bad = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            bad.append(message.id)
    assert not bad, f"empty or fuzzy entries in {path.name}: {bad}"


def test_compiled_catalog_is_current():
    po = ROOT / "locale/de/LC_MESSAGES/django.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), "run `make translations`"
    assert mo.stat().st_mtime >= po.stat().st_mtime, "django.mo is older than django.po"


@pytest.mark.django_db
def test_browser_language_german_shows_german(client):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    body = response.content.decode()
    assert response["Content-Language"] == "de"
    assert "Anmelden" in body
    assert "Sign in" not in body


@pytest.mark.django_db
def test_user_preference_wins_over_the_browser(client, vendor_a):
    membership = MembershipFactory(tenant=vendor_a, role="channel_manager")
    membership.user.language = "de"
    membership.user.save()
    client.force_login(membership.user)
    response = client.get(reverse("portal:partners", args=[vendor_a.slug]),
                          HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "de"
    assert "Partner" in response.content.decode()
    assert "Suche" in response.content.decode() or "Suchen" in response.content.decode()


@pytest.mark.django_db
def test_english_by_default(client):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="en-US")
    assert "Sign in" in response.content.decode()


@pytest.mark.django_db
def test_header_switch_also_changes_a_signed_in_users_preference(client, vendor_a):
    membership = MembershipFactory(tenant=vendor_a, role="analyst")
    membership.user.language = "en"
    membership.user.save()
    client.force_login(membership.user)
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 302
    membership.user.refresh_from_db()
    assert membership.user.language == "de"
    page = client.get(reverse("portal:home", args=[vendor_a.slug]))
    assert page["Content-Language"] == "de"
    # Unknown languages change nothing.
    client.post(reverse("set_language"), {"language": "xx"})
    membership.user.refresh_from_db()
    assert membership.user.language == "de"
