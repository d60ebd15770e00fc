"""The header bell in a real Chromium: count, panel, following a notification, mark all read."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from notifications.models import Notification, NotificationKind
from notifications.services import events_dispatch, notification_create
from tenancy.demo import DEMO_PASSWORD, demo_seed
from tenancy.models import Tenant, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MANAGER = "manager@northwind.example"


@pytest.fixture
def demo(live_server):
    demo_seed()
    return live_server.url


def _login(page, base_url, email, password=DEMO_PASSWORD):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")


def _unread(email: str) -> int:
    return Notification.objects.filter(recipient__email=email, tenant__slug="northwind",
                                       read_at__isnull=True).count()


def test_manager_follows_a_notification_and_marks_all_read(demo, page_for):
    events_dispatch()
    # A second notification, so that "mark all read" has something left to do.
    northwind = Tenant.objects.get(slug="northwind")
    won = Lead.objects.for_tenant(northwind).get(external_id="DEMO-1005")
    notification_create(tenant=northwind, recipient=User.objects.get(email=MANAGER),
                        kind=NotificationKind.LEAD_WON, lead=won,
                        link=f"/northwind/leads/{won.public_id}/", dedupe_key="browser-test")
    unread = _unread(MANAGER)
    assert unread >= 2

    page = page_for(viewport={"width": 390, "height": 844})
    _login(page, demo, MANAGER)
    badge = page.get_by_test_id("unread-count")
    expect(badge).to_have_text(str(unread))
    expect(badge).to_be_visible()

    bell = page.get_by_test_id("notification-bell")
    bell.locator("summary").click()
    held = bell.get_by_test_id("notification").filter(has_text="is held: no recorded consent")
    expect(held).to_have_count(1)
    expect(held).to_contain_text("Wagner Metall")
    # On a phone the panel fits the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    held.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/northwind/leads/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("lead-title")).to_have_text("Wagner Metall")
    expect(page.get_by_test_id("lead-status")).to_have_text("Held (no consent)")
    expect(page.get_by_test_id("consent")).to_contain_text("No consent recorded.")
    expect(page.get_by_test_id("unread-count")).to_have_text(str(unread - 1))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    bell = page.get_by_test_id("notification-bell")
    bell.locator("summary").click()
    expect(bell.locator(".notification.unread")).to_have_count(unread - 1)
    page.evaluate("window.__marker = 'same-document'")
    bell.get_by_test_id("mark-all-read").click()
    expect(page.get_by_test_id("unread-count")).to_have_text("0")
    expect(page.get_by_test_id("unread-count")).to_be_hidden()
    expect(bell.locator(".notification.unread")).to_have_count(0)
    # htmx swapped the panel and the count in place.
    assert page.evaluate("window.__marker") == "same-document"
    assert _unread(MANAGER) == 0
    page.reload()
    expect(page.get_by_test_id("unread-count")).to_have_text("0")


def test_german_manager_reads_notifications_in_german(demo, page_for):
    User.objects.filter(email=MANAGER).update(language="de")
    events_dispatch()  # the text is written in the recipient's language

    page = page_for(locale="en-US")
    _login(page, demo, MANAGER)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    # The demo's held lead and its lead waiting for pre-qualification.
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    bell = page.get_by_test_id("notification-bell")
    bell.locator("summary").click()
    expect(bell.locator(".bell-head")).to_contain_text("Benachrichtigungen")
    expect(bell.get_by_test_id("mark-all-read")).to_have_text("Alle als gelesen markieren")
    expect(bell.get_by_test_id("notification").filter(has_text="Dubois Conseil")).to_contain_text(
        "wartet auf Ihre Vorqualifizierung")
    item = bell.get_by_test_id("notification").filter(has_text="Wagner Metall")
    expect(item).to_contain_text("Lead „Wagner Metall“ wird zurückgehalten")
    item.get_by_role("link").click()
    expect(page.get_by_test_id("lead-status")).to_have_text(
        "Zurückgehalten (keine Einwilligung)")
    expect(page.get_by_test_id("consent")).to_contain_text("Keine Einwilligung erfasst.")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
