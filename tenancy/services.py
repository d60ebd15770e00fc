"""Every write of the tenancy app: tenants, invitations, memberships, audit."""

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tenancy.errors import DomainError, NotAllowed
from tenancy.models import AuditEntry, Invitation, Membership, Tenant, User
from tenancy.roles import PARTNER_ROLES, Role, roles_grantable_by

logger = logging.getLogger(__name__)


# --- audit ------------------------------------------------------------------------------------

def audit_record(
    *,
    tenant: Tenant,
    actor: User | None,
    action: str,
    target: Any,
    before: dict | None = None,
    after: dict | None = None,
    actor_label: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=actor,
        actor_label=actor_label or (actor.email if actor else "system"),
        action=action,
        object_type=target._meta.model_name,
        object_id=str(getattr(target, "public_id", target.pk)),
        object_repr=str(target)[:200],
        before=before or {},
        after=after or {},
    )


def tenant_config_bump(*, tenant_id: int) -> None:
    """The vendor's configuration changed: processes drop what they cached from it
    (custom fields, compiled routing rules and partners) on their next read."""
    Tenant.objects.filter(pk=tenant_id).update(config_version=F("config_version") + 1)


# --- users ------------------------------------------------------------------------------------

def user_mark_email_verified(*, user: User) -> None:
    """Record the user's address as verified and primary (allauth's EmailAddress)."""
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    address, _created = EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    if not (address.verified and address.primary):
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])


def user_update_preferences(*, user: User, name: str, language: str, time_zone: str) -> User:
    user.name = name
    user.language = language
    user.time_zone = time_zone
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name", "language", "time_zone"])
    return user


def password_set_link(*, user: User) -> str:
    """A one-time link to allauth's reset-from-key page: lets a new owner set a password."""
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    key = default_token_generator.make_token(user)
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": key},
    )
    return f"{settings.BASE_URL}{path}"


# --- tenants ----------------------------------------------------------------------------------

def tenant_create(
    *,
    slug: str,
    name: str,
    owner_email: str,
    time_zone: str = "UTC",
    default_language: str = "en",
    currency: str = "EUR",
) -> tuple[Tenant, User, bool]:
    """Create a vendor and its first owner. Returns (tenant, owner, owner_was_created)."""
    tenant = Tenant(
        slug=slug, name=name, time_zone=time_zone, default_language=default_language,
        currency=currency,
    )
    tenant.full_clean()
    email = User.objects.normalize_email(owner_email).lower()
    with transaction.atomic():
        tenant.save()
        owner = User.objects.filter(email__iexact=email).first()
        created = owner is None
        if created:
            owner = User(email=email, language=default_language)
            owner.full_clean(exclude=["password"])
            owner.set_unusable_password()
            owner.save()
            # The owner proves the address by using the emailed/printed set-password link.
            EmailAddress.objects.create(user=owner, email=email, verified=True, primary=True)
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
        audit_record(
            tenant=tenant, actor=None, actor_label="createtenant", action="tenant.create",
            target=tenant, after={"slug": slug, "owner": email},
        )
    return tenant, owner, created


# --- invitations ------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_grant(*, membership: Membership, role: str, partner) -> None:
    """Raise NotAllowed unless `membership` may give `role` (for `partner`)."""
    if role not in roles_grantable_by(membership.role):
        raise NotAllowed(_("You may not grant the role “%(role)s”.") % {"role": Role(role).label})
    if role in PARTNER_ROLES:
        if partner is None:
            raise DomainError(_("Choose the partner this person works for."), code="partner")
        if partner.tenant_id != membership.tenant_id:
            raise NotAllowed(_("This partner belongs to another vendor."))
        if membership.is_partner_side and partner.pk != membership.partner_id:
            raise NotAllowed(_("You may only invite people to your own partner."))
    elif partner is not None:
        raise DomainError(_("Vendor roles are not tied to a partner."), code="partner")


def invitation_create(
    *, tenant: Tenant, invited_by: Membership, email: str, role: str, partner=None
) -> tuple[Invitation, str]:
    """Invite `email` into `role`. Returns the invitation and the plain token (sent, not kept)."""
    email = User.objects.normalize_email(email).strip().lower()
    _check_grant(membership=invited_by, role=role, partner=partner)
    existing = Membership.objects.for_tenant(tenant).filter(user__email__iexact=email).first()
    if existing is not None:
        raise DomainError(_("%(email)s is already a member.") % {"email": email}, code="email")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # A new invitation replaces any open one for the same address, so only one link works.
        Invitation.objects.for_tenant(tenant).filter(
            email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            partner=partner,
            token_hash=_token_hash(token),
            invited_by=invited_by.user,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        audit_record(
            tenant=tenant, actor=invited_by.user, action="invitation.create", target=invitation,
            after={"email": email, "role": role, "partner": str(partner) if partner else None},
        )
        transaction.on_commit(lambda: invitation_send(invitation=invitation, token=token))
    return invitation, token


def invitation_link(*, token: str) -> str:
    return f"{settings.BASE_URL}{reverse('invitation_accept', kwargs={'token': token})}"


def invitation_send(*, invitation: Invitation, token: str) -> None:
    """Email the link. Runs after commit; a mail failure is logged, never a failed request."""
    tenant = invitation.tenant
    context = {
        "invitation": invitation,
        "tenant": tenant,
        "inviter": invitation.invited_by,
        "link": invitation_link(token=token),
        "role_label": Role(invitation.role).label,
    }
    with translation.override(tenant.default_language):
        subject = _("%(inviter)s invites you to %(tenant)s on Leadshare") % {
            "inviter": invitation.invited_by or "Leadshare", "tenant": tenant.name
        }
        text = render_to_string("tenancy/email/invitation.txt", context)
        html = render_to_string("tenancy/email/invitation.html", context)
    message = EmailMultiAlternatives(subject, text, to=[invitation.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:  # noqa: BLE001 - the invitation stays valid and can be re-sent
        logger.exception("Sending invitation %s failed", invitation.public_id)


def invitation_get_by_token(*, token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    return (
        Invitation.objects.select_related("tenant", "partner")
        .filter(token_hash=_token_hash(token))
        .first()
    )


def invitation_accept(
    *, token: str, user: User | None, name: str = "", password: str = ""
) -> Membership:
    """Accept an invitation: create the account (or use the signed-in one) and the membership.

    Single use: the invitation is claimed with a conditional update, so two clicks on the same
    link (or a race with a revoke) give one membership at most.
    """
    invitation = invitation_get_by_token(token=token)
    if invitation is None or not invitation.is_open:
        raise DomainError(_("This invitation is no longer valid."), code="invalid")
    if user is not None and user.email.lower() != invitation.email.lower():
        raise NotAllowed(_("This invitation was sent to another email address."))
    if user is None and User.objects.filter(email__iexact=invitation.email).exists():
        raise DomainError(
            _("An account with this email address exists: sign in to accept."), code="sign_in"
        )
    if user is None:
        candidate = User(email=invitation.email, name=name.strip())
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="password") from None
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).update(accepted_at=timezone.now())
        if not claimed:
            raise DomainError(_("This invitation is no longer valid."), code="invalid")
        if user is None:
            user = candidate
            user.language = invitation.tenant.default_language
            user.set_password(password)
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:
                raise DomainError(
                    _("An account with this email address exists: sign in to accept."),
                    code="sign_in",
                ) from None
        # The link reached this inbox, which proves the address.
        user_mark_email_verified(user=user)
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=user)
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    tenant=invitation.tenant, user=user, role=invitation.role,
                    partner=invitation.partner,
                )
        except IntegrityError:
            raise DomainError(
                _("You are already a member of this vendor."), code="member"
            ) from None
        audit_record(
            tenant=invitation.tenant, actor=user, action="invitation.accept", target=invitation,
            after={"role": invitation.role, "user": user.email},
        )
    return membership


def invitation_revoke(*, invitation: Invitation, actor: Membership) -> Invitation:
    _check_grant(membership=actor, role=invitation.role, partner=invitation.partner)
    with transaction.atomic():
        revoked = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if not revoked:
            raise DomainError(_("This invitation was already used or revoked."), code="state")
        invitation.refresh_from_db()
        audit_record(
            tenant=invitation.tenant, actor=actor.user, action="invitation.revoke",
            target=invitation, before={"status": "pending"}, after={"status": "revoked"},
        )
    return invitation


# --- memberships ------------------------------------------------------------------------------

def _lock_members(*, tenant: Tenant, pks: list[int]) -> dict[int, Membership]:
    """Lock the tenant's owners and the given memberships, always in primary-key order.

    One ordered lock set means two owners demoting each other at once queue instead of
    deadlocking, and the second sees the first's result (READ COMMITTED re-checks the rows).
    """
    rows = (
        Membership.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .filter(models.Q(role=Role.OWNER) | models.Q(pk__in=pks))
        .select_related("user", "partner")
        .order_by("pk")
    )
    return {m.pk: m for m in rows}


def _ensure_owner_remains(*, locked: dict[int, Membership], losing: Membership) -> None:
    owners = [m for m in locked.values() if m.role == Role.OWNER and m.pk != losing.pk]
    if losing.role == Role.OWNER and not owners:
        raise DomainError(_("A vendor needs at least one owner."), code="last_owner")


def _fresh(locked: dict[int, Membership], membership: Membership) -> Membership:
    fresh = locked.get(membership.pk)
    if fresh is None:
        raise DomainError(_("This membership no longer exists."), code="gone")
    return fresh


def membership_change_role(
    *, membership: Membership, role: str, partner=None, actor: Membership
) -> Membership:
    if membership.pk == actor.pk:
        raise NotAllowed(_("You cannot change your own role."))
    with transaction.atomic():
        locked = _lock_members(tenant=membership.tenant, pks=[membership.pk, actor.pk])
        target, actor = _fresh(locked, membership), _fresh(locked, actor)
        # Changing someone's role needs the right to grant both the old and the new role,
        # checked on the rows as they are now, not as the page showed them.
        _check_grant(membership=actor, role=target.role, partner=target.partner)
        _check_grant(membership=actor, role=role, partner=partner)
        if role != Role.OWNER:
            _ensure_owner_remains(locked=locked, losing=target)
        before = {"role": target.role, "partner": str(target.partner) if target.partner else None}
        target.role = role
        target.partner = partner
        target.save(update_fields=["role", "partner"])
        audit_record(
            tenant=target.tenant, actor=actor.user, action="membership.change_role", target=target,
            before=before, after={"role": role, "partner": str(partner) if partner else None},
        )
    return target


def membership_remove(*, membership: Membership, actor: Membership) -> None:
    if membership.pk == actor.pk:
        raise NotAllowed(_("You cannot remove yourself."))
    with transaction.atomic():
        locked = _lock_members(tenant=membership.tenant, pks=[membership.pk, actor.pk])
        target, actor = _fresh(locked, membership), _fresh(locked, actor)
        _check_grant(membership=actor, role=target.role, partner=target.partner)
        _ensure_owner_remains(locked=locked, losing=target)
        audit_record(
            tenant=target.tenant, actor=actor.user, action="membership.remove", target=target,
            before={"role": target.role, "user": target.user.email},
        )
        target.delete()
