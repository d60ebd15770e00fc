"""The portal in a real Chromium (Playwright) against live_server."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tenancy.demo import DEMO_PASSWORD, demo_seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server):
    demo_seed()
    return live_server.url


def _login(page, base_url, email, password=DEMO_PASSWORD):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")


def test_partner_user_logs_in_sees_vendor_and_switches_to_the_second(demo, page_for):
    page = page_for(locale="en-US")
    _login(page, demo, "anna@alpine-it.example")
    # Anna prefers German (demo data): the portal greets her in German.
    expect(page.locator("html")).to_have_attribute("lang", "de")
    first = page.get_by_test_id("tenant-name").inner_text()
    assert first in ("Contoso Cloud", "Northwind ERP")
    other = "Northwind ERP" if first == "Contoso Cloud" else "Contoso Cloud"

    switcher = page.get_by_test_id("tenant-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name=re.compile(other)).click()
    expect(page.get_by_test_id("tenant-name")).to_have_text(other)
    # Same session: no second login was needed.
    assert "/accounts/login" not in page.url


def test_german_browser_sees_german_login(demo, page_for):
    page = page_for(locale="de-DE")
    page.goto(f"{demo}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text("Anmelden")


def test_manager_invites_partner_user_who_joins_and_sees_only_that_vendor(demo, page_for):
    manager = page_for()
    _login(manager, demo, "manager@contoso.example")
    expect(manager.get_by_test_id("tenant-name")).to_have_text("Contoso Cloud")
    manager.goto(f"{demo}/contoso/invitations/")
    manager.fill("#id_email", "pia@hudson-cloud.example")
    manager.select_option("#id_role", "partner_rep")
    manager.select_option("#id_partner", label="Hudson Cloud Works")
    manager.click("button[type=submit].primary")
    expect(manager.locator(".messages")).to_contain_text("pia@hudson-cloud.example")

    link = re.search(r"http://\S+/invitations/\S+/", mail.outbox[-1].body).group(0)
    path = "/" + link.split("/", 3)[3]
    invitee = page_for(locale="en-US", viewport={"width": 390, "height": 844})
    invitee.goto(f"{demo}{path}")
    expect(invitee.locator("h1")).to_contain_text("Contoso Cloud")
    invitee.fill("#id_name", "Pia Hudson")
    invitee.fill("#id_password1", "harbor-lantern-5520-mild")
    invitee.fill("#id_password2", "harbor-lantern-5520-mild")
    invitee.click("button[type=submit].primary")
    expect(invitee.get_by_test_id("tenant-name")).to_have_text("Contoso Cloud")

    # Sign out and back in with the new password; only Contoso is offered.
    invitee.locator(".user-menu summary").click()
    invitee.locator(".user-menu button[type=submit]").click()
    _login(invitee, demo, "pia@hudson-cloud.example", "harbor-lantern-5520-mild")
    expect(invitee.get_by_test_id("tenant-name")).to_have_text("Contoso Cloud")
    links = invitee.get_by_test_id("tenant-switcher").locator("ul a")
    expect(links).to_have_count(1)
    response = invitee.goto(f"{demo}/northwind/")
    assert response.status == 404
    # Mobile-first: nothing is wider than a phone screen.
    invitee.goto(f"{demo}/contoso/")
    assert invitee.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_partner_search_narrows_the_list_in_place(demo, page_for):
    page = page_for(viewport={"width": 390, "height": 844})
    _login(page, demo, "manager@northwind.example")
    page.goto(f"{demo}/northwind/partners/")
    rows = page.locator("#partner-rows tbody tr")
    expect(rows).to_have_count(25)  # first page
    page.evaluate("window.__marker = 'same-document'")
    page.fill("#id_q", "alpine")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Alpine IT")
    # htmx swapped the rows: the page was not reloaded, and the address keeps the filter.
    assert page.evaluate("window.__marker") == "same-document"
    assert "q=alpine" in page.url
