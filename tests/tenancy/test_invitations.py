import re
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tenancy.errors import DomainError, NotAllowed
from tenancy.models import AuditEntry, Invitation, Membership, User
from tenancy.roles import Role
from tenancy.services import invitation_accept, invitation_create
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "sunny-meadow-4711-quiet"


def _link_from_mail(message) -> str:
    return re.search(r"http://\S+/invitations/\S+/", message.body).group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_manager_invites_partner_user_who_joins_and_sees_only_their_tenants(
    client, manager_a, partner_a, vendor_b, django_capture_on_commit_callbacks
):
    client.force_login(manager_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:invitations", args=[manager_a.tenant.slug]),
            {"email": "Rita@Reseller.example", "role": Role.PARTNER_REP,
             "partner": str(partner_a.public_id)},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rita@reseller.example"]
    assert manager_a.tenant.name in message.subject
    html = message.alternatives[0][0]
    link = _link_from_mail(message)
    assert link in html

    client.logout()
    page = client.get(_path(link))
    assert page.status_code == 200
    assert manager_a.tenant.name in page.content.decode()

    response = client.post(
        _path(link), {"name": "Rita Reseller", "password1": NEW_PASSWORD,
                      "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home", args=[manager_a.tenant.slug])

    user = User.objects.get(email="rita@reseller.example")
    membership = Membership.objects.get(user=user)
    assert (membership.tenant, membership.role, membership.partner) == (
        manager_a.tenant, Role.PARTNER_REP, partner_a
    )
    assert EmailAddress.objects.get(user=user).verified

    # Signed in by the acceptance; log out and in again with the new password.
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "rita@reseller.example", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    home = client.get(reverse("portal:home", args=[manager_a.tenant.slug]))
    assert home.status_code == 200
    body = home.content.decode()
    assert manager_a.tenant.name in body
    assert vendor_b.name not in body
    assert client.get(reverse("portal:home", args=[vendor_b.slug])).status_code == 404

    actions = set(AuditEntry.objects.for_tenant(manager_a.tenant).values_list("action", flat=True))
    assert {"invitation.create", "invitation.accept"} <= actions


def test_invitation_link_works_once(manager_a, partner_a):
    _inv, token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="x@example.org",
        role=Role.PARTNER_REP, partner=partner_a,
    )
    invitation_accept(token=token, user=None, name="X", password=NEW_PASSWORD)
    with pytest.raises(DomainError):
        invitation_accept(token=token, user=None, name="Y", password=NEW_PASSWORD)
    assert Membership.objects.filter(user__email="x@example.org").count() == 1


def test_expired_invitation_is_refused(client, manager_a):
    _inv, token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="late@example.org",
        role=Role.ANALYST,
    )
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        response = client.post(
            reverse("invitation_accept", args=[token]),
            {"name": "Late", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    assert response.status_code == 410
    assert not User.objects.filter(email="late@example.org").exists()


def test_revoked_invitation_is_refused_and_a_new_one_replaces_the_old(manager_a):
    first, first_token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="a@example.org", role=Role.ANALYST
    )
    second, second_token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="a@example.org", role=Role.ANALYST
    )
    first.refresh_from_db()
    assert first.status == "revoked"
    with pytest.raises(DomainError):
        invitation_accept(token=first_token, user=None, name="A", password=NEW_PASSWORD)
    invitation_accept(token=second_token, user=None, name="A", password=NEW_PASSWORD)


def test_signed_in_user_with_other_email_gets_403_without_tenant_details(client, manager_a,
                                                                          vendor_b):
    _inv, token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="someone@example.org",
        role=Role.ANALYST,
    )
    stranger = MembershipFactory(tenant=vendor_b).user
    client.force_login(stranger)
    response = client.get(reverse("invitation_accept", args=[token]))
    assert response.status_code == 403
    assert manager_a.tenant.name not in response.content.decode()


def test_existing_account_is_added_to_the_second_vendor_after_signing_in(client, manager_a,
                                                                          manager_b):
    existing = MembershipFactory(tenant=manager_b.tenant, role=Role.ANALYST).user
    _inv, token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email=existing.email, role=Role.ANALYST
    )
    page = client.get(reverse("invitation_accept", args=[token]))
    assert "Sign in" in page.content.decode()
    response = client.post(reverse("invitation_accept", args=[token]),
                           {"name": "Dup", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400
    client.post(reverse("account_login"), {"login": existing.email, "password": PASSWORD})
    response = client.post(reverse("invitation_accept", args=[token]))
    assert response.status_code == 302
    assert set(existing.memberships.values_list("tenant__slug", flat=True)) == {
        manager_a.tenant.slug, manager_b.tenant.slug
    }


def test_weak_password_is_a_form_error_and_creates_nothing(client, manager_a):
    _inv, token = invitation_create(
        tenant=manager_a.tenant, invited_by=manager_a, email="weak@example.org",
        role=Role.ANALYST,
    )
    response = client.post(reverse("invitation_accept", args=[token]),
                           {"name": "W", "password1": "123", "password2": "123"})
    assert response.status_code == 400
    assert "password" in response.content.decode().lower()
    assert not User.objects.filter(email="weak@example.org").exists()
    assert Invitation.objects.get(email="weak@example.org").is_open


def test_channel_manager_cannot_grant_owner(manager_a):
    with pytest.raises(NotAllowed):
        invitation_create(tenant=manager_a.tenant, invited_by=manager_a, email="o@example.org",
                          role=Role.OWNER)


def test_owner_can_grant_owner(owner_a):
    invitation, _token = invitation_create(
        tenant=owner_a.tenant, invited_by=owner_a, email="o2@example.org", role=Role.OWNER
    )
    assert invitation.role == Role.OWNER


def test_partner_admin_invites_only_into_own_partner(vendor_a):
    admin = MembershipFactory(tenant=vendor_a, role=Role.PARTNER_ADMIN)
    other_partner = PartnerFactory(tenant=vendor_a)
    invitation, _token = invitation_create(
        tenant=vendor_a, invited_by=admin, email="rep@example.org", role=Role.PARTNER_REP,
        partner=admin.partner,
    )
    assert invitation.partner == admin.partner
    with pytest.raises(NotAllowed):
        invitation_create(tenant=vendor_a, invited_by=admin, email="rep2@example.org",
                          role=Role.PARTNER_REP, partner=other_partner)
    with pytest.raises(NotAllowed):
        invitation_create(tenant=vendor_a, invited_by=admin, email="cm@example.org",
                          role=Role.CHANNEL_MANAGER)


def test_partner_of_another_vendor_is_refused(manager_a, partner_b):
    with pytest.raises(NotAllowed):
        invitation_create(tenant=manager_a.tenant, invited_by=manager_a, email="p@example.org",
                          role=Role.PARTNER_REP, partner=partner_b)


def test_invitation_form_shows_field_errors(client, manager_a):
    client.force_login(manager_a.user)
    url = reverse("portal:invitations", args=[manager_a.tenant.slug])
    response = client.post(url, {"email": "not-an-email", "role": Role.PARTNER_REP})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "email" in errors and "partner" in errors
    response = client.post(url, {"email": manager_a.user.email, "role": Role.ANALYST})
    assert "already a member" in str(response.context["form"].errors)
    assert not Invitation.objects.exists()


def test_no_open_signup(client):
    response = client.post(reverse("account_signup"), {
        "email": "intruder@example.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not User.objects.filter(email="intruder@example.org").exists()
    assert response.status_code in (200, 302)
