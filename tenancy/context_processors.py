from tenancy.roles import Perm, role_has_perm
from tenancy.selectors import memberships_for_user


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    perms = {p.value: role_has_perm(membership.role, p) for p in Perm} if membership else {}
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "can": perms,
        "user_memberships": memberships_for_user(user=user),
    }
