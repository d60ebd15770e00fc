"""Roles and the role matrix (DESIGN.md, Tenancy).

Views declare the permission they need; the base views look it up here. One table, so the
matrix can be read, reviewed and tested as a whole.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    CHANNEL_MANAGER = "channel_manager", _("Channel manager")
    ANALYST = "analyst", _("Analyst")
    PARTNER_ADMIN = "partner_admin", _("Partner admin")
    PARTNER_REP = "partner_rep", _("Partner rep")


VENDOR_ROLES = frozenset({Role.OWNER, Role.CHANNEL_MANAGER, Role.ANALYST})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN, Role.PARTNER_REP})


class Perm(models.TextChoices):
    VIEW_PORTAL = "view_portal", _("Use the portal")
    VIEW_PARTNERS = "view_partners", _("See all partners")
    MANAGE_PARTNERS = "manage_partners", _("Configure partners, tiers and tags")
    VIEW_MEMBERS = "view_members", _("See the vendor's members")
    # Partner admins hold the two member permissions too, narrowed to their own partner's team
    # by the views' querysets and by roles_grantable_by().
    MANAGE_MEMBERS = "manage_members", _("Invite members and change roles")
    GRANT_OWNER = "grant_owner", _("Grant the owner role")
    VIEW_AUDIT = "view_audit", _("Read the audit log")
    # Every member reads leads; partner roles only their own partner's (leads/selectors.py).
    VIEW_LEADS = "view_leads", _("Read leads")
    VIEW_ALL_LEADS = "view_all_leads", _("Read every lead of the vendor")


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        {
            Perm.VIEW_PORTAL,
            Perm.VIEW_PARTNERS,
            Perm.MANAGE_PARTNERS,
            Perm.VIEW_MEMBERS,
            Perm.MANAGE_MEMBERS,
            Perm.GRANT_OWNER,
            Perm.VIEW_AUDIT,
            Perm.VIEW_LEADS,
            Perm.VIEW_ALL_LEADS,
        }
    ),
    Role.CHANNEL_MANAGER: frozenset(
        {
            Perm.VIEW_PORTAL,
            Perm.VIEW_PARTNERS,
            Perm.MANAGE_PARTNERS,
            Perm.VIEW_MEMBERS,
            Perm.MANAGE_MEMBERS,
            Perm.VIEW_AUDIT,
            Perm.VIEW_LEADS,
            Perm.VIEW_ALL_LEADS,
        }
    ),
    Role.ANALYST: frozenset(
        {Perm.VIEW_PORTAL, Perm.VIEW_PARTNERS, Perm.VIEW_MEMBERS, Perm.VIEW_LEADS,
         Perm.VIEW_ALL_LEADS}
    ),
    Role.PARTNER_ADMIN: frozenset(
        {Perm.VIEW_PORTAL, Perm.VIEW_MEMBERS, Perm.MANAGE_MEMBERS, Perm.VIEW_LEADS}
    ),
    Role.PARTNER_REP: frozenset({Perm.VIEW_PORTAL, Perm.VIEW_LEADS}),
}


def role_has_perm(role: str, perm: str) -> bool:
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def roles_grantable_by(role: str) -> list[str]:
    """Which roles a member with `role` may hand out (by invitation or role change)."""
    if role_has_perm(role, Perm.GRANT_OWNER):
        return list(Role.values)
    if role in PARTNER_ROLES:
        # A partner admin builds its own team; never vendor roles.
        if role_has_perm(role, Perm.MANAGE_MEMBERS):
            return [Role.PARTNER_ADMIN.value, Role.PARTNER_REP.value]
        return []
    if role_has_perm(role, Perm.MANAGE_MEMBERS):
        return [r for r in Role.values if r != Role.OWNER]
    return []
