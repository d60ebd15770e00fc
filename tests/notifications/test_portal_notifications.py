"""Notifications and the lead page in the portal: the header count, the panel, the list,
marking read, email preferences, and who may open what (other vendor, other person: 404)."""

import datetime
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadStatus
from leads.services import activity_log, lead_create, lead_mark_won
from notifications.models import EmailStatus, Notification, NotificationKind, NotificationPreference
from notifications.services import events_dispatch, notification_emails_send
from tenancy.actors import Actor
from tenancy.roles import ROLE_PERMISSIONS, Perm, Role
from tests.factories import (
    CustomFieldFactory,
    LeadFactory,
    MembershipFactory,
    PartnerFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db


def _notify(tenant, user, text, *, read=False, link="", created_at=None, lead=None):
    return Notification.objects.create(
        tenant=tenant, recipient=user, kind=NotificationKind.LEAD_WON, lead=lead, text=text,
        link=link, dedupe_key=str(uuid.uuid4()), read_at=timezone.now() if read else None,
        created_at=created_at or timezone.now(),
    )


def _badge(response) -> str:
    """The number in the header's badge, and whether it is hidden."""
    body = response.content.decode()
    start = body.index('data-testid="unread-count"')
    tag_end = body.index(">", start)
    text = body[tag_end + 1:body.index("</span>", tag_end)]
    return text + (" hidden" if " hidden" in body[start:tag_end] else "")


@pytest.fixture
def manager(vendor_a):
    return MembershipFactory(tenant=vendor_a, role=Role.CHANNEL_MANAGER)


# --- the header count ---------------------------------------------------------------------------

def test_header_counts_the_persons_unread_notifications_at_this_vendor_only(
        client, vendor_a, vendor_b, manager):
    user = manager.user
    MembershipFactory(tenant=vendor_b, user=user, role=Role.ANALYST)
    colleague = MembershipFactory(tenant=vendor_a, role=Role.OWNER).user
    _notify(vendor_a, user, "one")
    _notify(vendor_a, user, "two")
    _notify(vendor_a, user, "seen", read=True)
    _notify(vendor_b, user, "at the other vendor")
    _notify(vendor_a, colleague, "someone else's")
    client.force_login(user)

    assert _badge(client.get(reverse("portal:home", args=[vendor_a.slug]))) == "2"
    assert _badge(client.get(reverse("portal:home", args=[vendor_b.slug]))) == "1"
    Notification.objects.filter(tenant=vendor_a, recipient=user).update(read_at=timezone.now())
    assert _badge(client.get(reverse("portal:partners", args=[vendor_a.slug]))) == "0 hidden"


def test_header_count_is_one_query_and_partials_skip_it(client, vendor_a, manager):
    _notify(vendor_a, manager.user, "one")
    client.force_login(manager.user)
    table = Notification._meta.db_table
    with CaptureQueriesContext(connection) as page:
        client.get(reverse("portal:home", args=[vendor_a.slug]))
    assert len([q for q in page.captured_queries if table in q["sql"]]) == 1
    with CaptureQueriesContext(connection) as partial:
        response = client.get(reverse("portal:partners", args=[vendor_a.slug]),
                              HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert not [q for q in partial.captured_queries if table in q["sql"]]


def test_header_count_stops_at_99_plus(client, vendor_a, manager):
    Notification.objects.bulk_create([
        Notification(tenant=vendor_a, recipient=manager.user, kind=NotificationKind.LEAD_WON,
                     text=f"n{i}", dedupe_key=f"k{i}") for i in range(130)
    ])
    client.force_login(manager.user)
    assert _badge(client.get(reverse("portal:home", args=[vendor_a.slug]))) == "99+"


@pytest.mark.postgres
def test_header_count_can_use_the_partial_unread_index(vendor_a, manager):
    from notifications.selectors import notifications_for_user

    queryset = notifications_for_user(tenant=vendor_a, user=manager.user).filter(
        read_at__isnull=True).order_by()[:100]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT COUNT(*) FROM ({sql}) AS unread", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "notification_unread" in plan, plan


def test_pages_without_a_vendor_have_no_bell(client, manager):
    client.force_login(manager.user)
    response = client.get(reverse("profile"))
    assert 'data-testid="notification-bell"' not in response.content.decode()


# --- panel and list ---------------------------------------------------------------------------

def test_panel_shows_the_newest_notifications_and_refreshes_the_count(client, vendor_a, manager):
    start = timezone.now() - timedelta(hours=1)
    for i in range(10):
        _notify(vendor_a, manager.user, f"note number {i:02d}", created_at=start + timedelta(
            minutes=i), read=i < 3)
    client.force_login(manager.user)
    url = reverse("portal:notifications-panel", args=[vendor_a.slug])
    response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert [f"note number {i:02d}" in body for i in range(10)] == [False] * 2 + [True] * 8
    assert body.index("note number 09") < body.index("note number 02")
    assert 'hx-swap-oob="true"' in body and _badge(response) == "7"
    assert "Vary" in response and "HX-Request" in response["Vary"]
    # Without htmx (no JS) the bell's address is the full list.
    plain = client.get(url)
    assert plain.status_code == 302
    assert plain["Location"] == reverse("portal:notifications", args=[vendor_a.slug])


def test_list_page_paginates_the_persons_own_notifications(client, vendor_a, manager):
    other = MembershipFactory(tenant=vendor_a, role=Role.OWNER).user
    start = timezone.now() - timedelta(days=1)
    for i in range(30):
        _notify(vendor_a, manager.user, f"mine {i:02d}", created_at=start + timedelta(minutes=i))
    _notify(vendor_a, other, "not for you")
    client.force_login(manager.user)
    url = reverse("portal:notifications", args=[vendor_a.slug])
    first = client.get(url).content.decode()
    assert first.count('data-testid="notification"') == 25
    assert "mine 29" in first and "mine 04" not in first
    assert "not for you" not in first
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('data-testid="notification"') == 5
    assert "mine 04" in second and "mine 00" in second


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, vendor_a, manager):
    lead = LeadFactory(tenant=vendor_a)
    link = f"/{vendor_a.slug}/leads/{lead.public_id}/"
    notification = _notify(vendor_a, manager.user, "won", link=link, lead=lead)
    client.force_login(manager.user)
    response = client.get(reverse("portal:notification",
                                  args=[vendor_a.slug, notification.public_id]))
    assert response.status_code == 302 and response["Location"] == link
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert client.get(link).status_code == 200


@pytest.mark.parametrize("link", ["", "https://elsewhere.example/phish", "//elsewhere.example/"])
def test_a_notification_never_sends_anyone_off_site(client, vendor_a, manager, link):
    notification = _notify(vendor_a, manager.user, "odd link", link=link)
    client.force_login(manager.user)
    response = client.get(reverse("portal:notification",
                                  args=[vendor_a.slug, notification.public_id]))
    assert response["Location"] == reverse("portal:notifications", args=[vendor_a.slug])


def test_mark_read_with_htmx_swaps_the_item_and_the_count(client, vendor_a, manager):
    notification = _notify(vendor_a, manager.user, "please read me")
    _notify(vendor_a, manager.user, "still unread")
    client.force_login(manager.user)
    response = client.post(
        reverse("portal:notification-read", args=[vendor_a.slug, notification.public_id]),
        HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "please read me" in body and "<html" not in body
    assert 'class="notification"' in body  # no longer marked unread, no "mark read" form
    assert "notification-read" not in body and "/read/" not in body
    assert 'hx-swap-oob="true"' in body and _badge(response) == "1"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_mark_read_without_js_goes_back_but_never_off_site(client, vendor_a, manager):
    first = _notify(vendor_a, manager.user, "first")
    second = _notify(vendor_a, manager.user, "second")
    client.force_login(manager.user)
    back = reverse("portal:notifications", args=[vendor_a.slug]) + "?page=1"
    response = client.post(reverse("portal:notification-read",
                                   args=[vendor_a.slug, first.public_id]), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    response = client.post(reverse("portal:notification-read",
                                   args=[vendor_a.slug, second.public_id]),
                           {"next": "https://elsewhere.example/"})
    assert response["Location"] == reverse("portal:notifications", args=[vendor_a.slug])
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_mark_read_is_post_only(client, vendor_a, manager):
    notification = _notify(vendor_a, manager.user, "unread")
    client.force_login(manager.user)
    response = client.get(reverse("portal:notification-read",
                                  args=[vendor_a.slug, notification.public_id]))
    assert response.status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_touches_only_this_person_at_this_vendor(client, vendor_a, vendor_b,
                                                              manager):
    user = manager.user
    MembershipFactory(tenant=vendor_b, user=user, role=Role.ANALYST)
    colleague = MembershipFactory(tenant=vendor_a, role=Role.OWNER).user
    for text in ("a", "b", "c"):
        _notify(vendor_a, user, text)
    elsewhere = _notify(vendor_b, user, "at B")
    theirs = _notify(vendor_a, colleague, "colleague's")
    client.force_login(user)
    url = reverse("portal:notifications-read-all", args=[vendor_a.slug])

    response = client.post(url, {"next": reverse("portal:home", args=[vendor_a.slug])})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home", args=[vendor_a.slug])
    assert not Notification.objects.filter(tenant=vendor_a, recipient=user,
                                           read_at__isnull=True).exists()
    elsewhere.refresh_from_db()
    theirs.refresh_from_db()
    assert elsewhere.read_at is None and theirs.read_at is None
    page = client.get(response["Location"])
    assert "3 notifications marked as read." in page.content.decode()
    assert _badge(page) == "0 hidden"


def test_mark_all_read_with_htmx_returns_the_panel_and_a_zero_count(client, vendor_a, manager):
    _notify(vendor_a, manager.user, "an unread one")
    client.force_login(manager.user)
    response = client.post(reverse("portal:notifications-read-all", args=[vendor_a.slug]),
                           HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "an unread one" in body and "notification unread" not in body
    assert _badge(response) == "0 hidden"
    assert 'data-testid="mark-all-read"' not in body


# --- 404s: other vendor, other person -----------------------------------------------------------

def _notification_urls(slug, public_id):
    return [
        ("get", reverse("portal:notification", args=[slug, public_id])),
        ("post", reverse("portal:notification-read", args=[slug, public_id])),
    ]


def test_another_persons_notification_in_the_same_vendor_is_404(client, vendor_a, manager):
    colleague = MembershipFactory(tenant=vendor_a, role=Role.OWNER)
    theirs = _notify(vendor_a, colleague.user, "private to the colleague",
                     link=f"/{vendor_a.slug}/")
    client.force_login(manager.user)
    for method, url in _notification_urls(vendor_a.slug, theirs.public_id):
        assert getattr(client, method)(url).status_code == 404, url
    theirs.refresh_from_db()
    assert theirs.read_at is None
    for name in ("portal:notifications", "portal:notifications-panel"):
        body = client.get(reverse(name, args=[vendor_a.slug]), HTTP_HX_REQUEST="true")
        assert "private to the colleague" not in body.content.decode()


def test_another_vendors_notification_is_404(client, vendor_a, vendor_b, manager):
    member_b = MembershipFactory(tenant=vendor_b, role=Role.OWNER)
    theirs = _notify(vendor_b, member_b.user, "bravo only")
    client.force_login(manager.user)
    for slug in (vendor_a.slug, vendor_b.slug):
        for method, url in _notification_urls(slug, theirs.public_id):
            assert getattr(client, method)(url).status_code == 404, url
    for name in ("portal:notifications", "portal:notifications-panel",
                 "portal:notifications-read-all"):
        url = reverse(name, args=[vendor_b.slug])
        assert client.get(url).status_code in (404, 405)
        assert client.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_held_lead_reaches_the_manager_end_to_end(client):
    tenant = TenantFactory(slug="vendor-held", lead_consent_required=True)
    manager = MembershipFactory(tenant=tenant, role=Role.CHANNEL_MANAGER)
    lead = lead_create(tenant=tenant, actor=Actor(), fields={
        "company_name": "Held Holz GmbH", "contact_email": "h@held-holz.example"})
    assert events_dispatch() == 1
    client.force_login(manager.user)
    home = client.get(reverse("portal:home", args=[tenant.slug]))
    assert _badge(home) == "1"
    panel = client.get(reverse("portal:notifications-panel", args=[tenant.slug]),
                       HTTP_HX_REQUEST="true").content.decode()
    assert "Lead “Held Holz GmbH” is held: no recorded consent." in panel
    notification = Notification.objects.get()
    opened = client.get(reverse("portal:notification", args=[tenant.slug,
                                                               notification.public_id]))
    assert opened["Location"] == reverse("portal:lead", args=[tenant.slug, lead.public_id])
    page = client.get(opened["Location"])
    assert page.status_code == 200
    assert "Held Holz GmbH" in page.content.decode()
    assert _badge(page) == "0 hidden"


# --- email preferences ----------------------------------------------------------------------------

def test_profile_has_a_send_email_box_per_kind_ticked_by_default(client, manager):
    client.force_login(manager.user)
    body = client.get(reverse("profile")).content.decode()
    for kind in NotificationKind:
        assert f'name="email-{kind.value}"' in body
        assert str(kind.label) in body
    assert body.count("checked") == len(NotificationKind)


def _profile_data(user, **boxes):
    data = {"name": user.name, "language": "", "time_zone": ""}
    data.update({f"email-{kind}": "on" for kind, on in boxes.items() if on})
    return data


def test_saving_the_profile_stores_the_changed_preferences(client, manager):
    user = manager.user
    client.force_login(user)
    wanted = {kind.value: True for kind in NotificationKind}
    wanted[NotificationKind.LEAD_HELD] = False
    response = client.post(reverse("profile"), _profile_data(user, **wanted))
    assert response.status_code == 302
    # Only the changed kind gets a row; the others keep the default.
    assert list(NotificationPreference.objects.filter(user=user).values_list(
        "kind", "email")) == [(NotificationKind.LEAD_HELD, False)]
    body = client.get(reverse("profile")).content.decode()
    assert body.count("checked") == len(NotificationKind) - 1

    wanted[NotificationKind.LEAD_HELD] = True
    wanted[NotificationKind.LEAD_LOST] = False
    client.post(reverse("profile"), _profile_data(user, **wanted))
    assert dict(NotificationPreference.objects.filter(user=user).values_list(
        "kind", "email")) == {NotificationKind.LEAD_HELD: True, NotificationKind.LEAD_LOST: False}


def test_an_invalid_profile_saves_no_preference(client, manager):
    client.force_login(manager.user)
    data = _profile_data(manager.user)  # every box unticked ...
    data["time_zone"] = "Mars/Olympus"  # ... but the form is refused
    response = client.post(reverse("profile"), data)
    assert response.status_code == 200
    assert not NotificationPreference.objects.exists()


def test_an_unticked_kind_sends_no_email(client, vendor_a, manager):
    user = manager.user
    client.force_login(user)
    wanted = {kind.value: kind != NotificationKind.LEAD_WON for kind in NotificationKind}
    client.post(reverse("profile"), _profile_data(user, **wanted))
    Notification.objects.create(tenant=vendor_a, recipient=user, kind=NotificationKind.LEAD_WON,
                                text="won", dedupe_key="w", email_next_attempt_at=timezone.now())
    Notification.objects.create(tenant=vendor_a, recipient=user, kind=NotificationKind.LEAD_LOST,
                                text="lost", dedupe_key="l",
                                email_next_attempt_at=timezone.now())
    assert notification_emails_send() == 1
    assert [m.subject for m in mail.outbox] == [f"[{vendor_a.name}] lost"]
    assert Notification.objects.get(kind=NotificationKind.LEAD_WON).email_status == (
        EmailStatus.SKIPPED)


# --- the lead page --------------------------------------------------------------------------------

def test_every_role_reads_leads_and_only_vendor_roles_read_them_all():
    for role, perms in ROLE_PERMISSIONS.items():
        assert Perm.VIEW_LEADS in perms, role
        assert (Perm.VIEW_ALL_LEADS in perms) == (
            role in (Role.OWNER, Role.CHANNEL_MANAGER, Role.ANALYST)), role


@pytest.fixture
def full_lead(vendor_a, partner_a):
    CustomFieldFactory(tenant=vendor_a, key="employees", label="Head count", kind="number")
    CustomFieldFactory(tenant=vendor_a, key="decision_by", label="Decision due", kind="date")
    lead = lead_create(tenant=vendor_a, actor=Actor(label="crm sync"), fields={
        "company_name": "Kessler Kältetechnik", "contact_name": "Karin Kessler",
        "contact_email": "karin@kessler-kaelte.example", "contact_phone": "+49 30 1234",
        "company_website": "https://kessler-kaelte.example", "country": "DE",
        "source_kind": "co_marketing", "campaign_id": "CMP-77", "utm_source": "newsletter",
        "utm_campaign": "spring-erp", "deal_size": "48000", "currency": "EUR",
        "custom_fields": {"employees": "120", "decision_by": "2027-03-31"},
        "consent_basis": "consent", "consent_text": "Yes, a partner may call me.",
        "consent_source": "https://vendor.example/form",
    })
    lead.status, lead.partner = LeadStatus.ACCEPTED, partner_a
    lead.save(update_fields=["status", "partner"])
    activity_log(lead=lead, kind="call", body="Discussed the cold store.", occurred_at=None,
                 actor=Actor(label="rep@alpha.example"))
    lead_mark_won(lead=lead, order_value="51000", closed_on=datetime.date(2027, 1, 15),
                  actor=Actor(label="rep@alpha.example"))
    return lead


@pytest.mark.parametrize("role", [Role.OWNER, Role.CHANNEL_MANAGER, Role.ANALYST])
def test_vendor_roles_read_every_lead_in_full(client, vendor_a, full_lead, role):
    other = LeadFactory(tenant=vendor_a, company_name="Unassigned Unlimited")
    membership = MembershipFactory(tenant=vendor_a, role=role)
    client.force_login(membership.user)
    response = client.get(reverse("portal:lead", args=[vendor_a.slug, full_lead.public_id]))
    assert response.status_code == 200
    body = response.content.decode()
    for seen in ("Kessler Kältetechnik", "Karin Kessler", "karin@kessler-kaelte.example",
                 "kessler-kaelte.example", "Co-marketing", "CMP-77", "newsletter",
                 "spring-erp", "48,000", "Head count", "120", "Decision due",
                 "Yes, a partner may call me.", "Consent", "Won", "51,000",
                 "Discussed the cold store.", "rep@alpha.example", "crm sync",
                 "Alpha Reseller", "Source: Co-marketing", "Order value: 51000", "Accepted"):
        assert seen in body, seen
    assert client.get(reverse("portal:lead", args=[vendor_a.slug, other.public_id])
                      ).status_code == 200


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_REP])
def test_partner_roles_read_only_their_partners_leads(client, vendor_a, partner_a, full_lead,
                                                      role):
    own = MembershipFactory(tenant=vendor_a, role=role, partner=partner_a)
    client.force_login(own.user)
    response = client.get(reverse("portal:lead", args=[vendor_a.slug, full_lead.public_id]))
    assert response.status_code == 200
    assert "Kessler Kältetechnik" in response.content.decode()

    rival = PartnerFactory(tenant=vendor_a, name="Rival Reseller")
    rivals_lead = LeadFactory(tenant=vendor_a, partner=rival, company_name="Rival Customer")
    unassigned = LeadFactory(tenant=vendor_a, company_name="Nobody's Customer")
    for lead in (rivals_lead, unassigned):
        response = client.get(reverse("portal:lead", args=[vendor_a.slug, lead.public_id]))
        assert response.status_code == 404
        assert lead.company_name not in response.content.decode()

    outsider = MembershipFactory(tenant=vendor_a, role=role, partner=rival)
    client.force_login(outsider.user)
    assert client.get(reverse("portal:lead", args=[vendor_a.slug, full_lead.public_id])
                      ).status_code == 404


def test_another_vendors_lead_is_404(client, vendor_a, vendor_b, manager):
    lead_b = LeadFactory(tenant=vendor_b, company_name="Bravo Kunde")
    client.force_login(manager.user)
    for slug in (vendor_a.slug, vendor_b.slug):
        response = client.get(reverse("portal:lead", args=[slug, lead_b.public_id]))
        assert response.status_code == 404
        assert "Bravo Kunde" not in response.content.decode()


def test_duplicate_links_only_to_leads_the_reader_may_open(client, vendor_a, partner_a, manager):
    rival = PartnerFactory(tenant=vendor_a)
    earlier = LeadFactory(tenant=vendor_a, partner=rival, company_name="First Inquiry")
    later = LeadFactory(tenant=vendor_a, partner=partner_a, duplicate_of=earlier,
                        company_name="Second Inquiry")
    earlier_url = reverse("portal:lead", args=[vendor_a.slug, earlier.public_id])
    later_url = reverse("portal:lead", args=[vendor_a.slug, later.public_id])

    client.force_login(manager.user)
    body = client.get(later_url).content.decode()
    assert f'href="{earlier_url}"' in body and "First Inquiry" in body
    assert f'href="{later_url}"' in client.get(earlier_url).content.decode()

    rep = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_REP, partner=partner_a)
    client.force_login(rep.user)
    body = client.get(later_url).content.decode()
    assert "A duplicate of an earlier lead." in body
    assert earlier_url not in body and "First Inquiry" not in body


def test_a_lead_without_consent_says_so(client, vendor_a, manager):
    lead = LeadFactory(tenant=vendor_a, status=LeadStatus.HELD)
    client.force_login(manager.user)
    body = client.get(reverse("portal:lead", args=[vendor_a.slug, lead.public_id])).content
    assert "No consent recorded." in body.decode()


def test_german_reader_gets_german_pages(client, vendor_a, manager, full_lead):
    manager.user.language = "de"
    manager.user.save()
    _notify(vendor_a, manager.user, "eins")
    client.force_login(manager.user)
    lead_page = client.get(reverse("portal:lead", args=[vendor_a.slug, full_lead.public_id]))
    body = lead_page.content.decode()
    assert lead_page["Content-Language"] == "de"
    for german in ("Einwilligung", "Verlauf", "Aktivitäten", "Quelle: Co-Marketing",
                   "Auftragswert: 51000", "Gewonnen", "48.000"):
        assert german in body, german
    panel = client.get(reverse("portal:notifications-panel", args=[vendor_a.slug]),
                       HTTP_HX_REQUEST="true").content.decode()
    assert "Benachrichtigungen" in panel and "Alle als gelesen markieren" in panel
    profile = client.get(reverse("profile")).content.decode()
    assert "E-Mail-Benachrichtigungen" in profile
