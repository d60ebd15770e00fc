"""Base views that make tenant scoping impossible to forget (STYLE.md).

Every portal view under /<tenant-slug>/ derives from TenantMixin (through TenantView,
TenantFormView, TenantActionView, TenantObjectView or TenantListView). It resolves the
tenant from the URL against the user's memberships (404 if none), checks the role matrix,
and holds the tenant in the request and the tenant context. Views that show rows derive
from TenantObjectView or TenantListView and implement `tenant_queryset()`; the base
`get_queryset()` always narrows it to the request's tenant and may not be overridden.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.views.generic import DetailView, FormView, ListView, TemplateView, View

from tenancy.context import reset_current_tenant, set_current_tenant
from tenancy.roles import Perm, role_has_perm
from tenancy.selectors import membership_get_for_user


class TenantMixin(LoginRequiredMixin):
    required_perm: str = Perm.VIEW_PORTAL
    # No OPTIONS: the portal serves no cross-origin clients, and every method that is
    # accepted goes through the tenant and object checks.
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "trace"]

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_get_for_user(user=request.user, tenant_slug=kwargs["tenant_slug"])
        if not role_has_perm(membership.role, self.required_perm):
            # The user belongs to this tenant, so nothing leaks by saying "not allowed".
            raise PermissionDenied
        self.membership = membership
        self.tenant = membership.tenant
        request.tenant = membership.tenant
        request.membership = membership
        request.session["last_tenant"] = membership.tenant.slug
        token = set_current_tenant(membership.tenant)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            reset_current_tenant(token)

    def has_perm(self, perm: str) -> bool:
        return role_has_perm(self.membership.role, perm)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tenant"] = self.tenant
        context["membership"] = self.membership
        return context


class TenantView(TenantMixin, TemplateView):
    pass


class TenantFormView(TenantMixin, FormView):
    pass


class TenantActionView(TenantMixin, View):
    """A POST-only action (htmx or form) on the tenant."""

    http_method_names = ["post"]


class _TenantQuerysetMixin:
    model = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or "get_object" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__}: implement tenant_queryset() instead of get_queryset()/"
                "get_object(), so rows stay scoped to the request's tenant"
            )

    def tenant_queryset(self):
        if self.model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs `model` or tenant_queryset()")
        return self.model.objects.all()

    def get_queryset(self):
        # Whatever the hook returns is narrowed to the request's tenant here, always.
        return self.tenant_queryset().for_tenant(self.tenant)


class TenantObjectView(_TenantQuerysetMixin, TenantMixin, DetailView):
    """One object of the tenant, looked up by its opaque public id; another tenant's is 404."""

    slug_field = "public_id"
    slug_url_kwarg = "public_id"


class TenantListView(_TenantQuerysetMixin, TenantMixin, ListView):
    paginate_by = 50
