from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView, UpdateView, View
from django.views.i18n import set_language

from leads.selectors import (
    TIMELINE_LIMIT,
    lead_contact_hidden,
    lead_custom_field_values,
    lead_timeline,
    leads_visible_to,
)
from notifications.selectors import (
    notification_email_preferences,
    notification_get_for_user,
    notifications_for_user,
)
from notifications.services import (
    notification_mark_all_read,
    notification_mark_read,
    notification_preference_set,
)
from partners.models import Partner
from portal.forms import (
    AcceptInvitationForm,
    InvitationForm,
    MembershipRoleForm,
    NotificationPreferencesForm,
    PartnerFilterForm,
    ProfileForm,
)
from routing.selectors import lead_routing_for
from tenancy.errors import DomainError
from tenancy.models import AuditEntry, Invitation, Membership, User
from tenancy.roles import Perm, roles_grantable_by
from tenancy.selectors import memberships_for_user
from tenancy.services import (
    invitation_accept,
    invitation_create,
    invitation_get_by_token,
    invitation_revoke,
    membership_change_role,
    membership_remove,
    user_update_preferences,
)
from tenancy.views import (
    TenantActionView,
    TenantFormView,
    TenantListView,
    TenantObjectView,
    TenantView,
)


@require_POST
def language_set(request):
    """The header's language switch; for a signed-in user it also becomes their preference,
    which otherwise would win over the switch on the next request."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_update_preferences(user=request.user, name=request.user.name, language=language,
                                time_zone=request.user.time_zone)
    return set_language(request)


class StartView(LoginRequiredMixin, TemplateView):
    """`/`: straight to the last vendor used, else the first; a page when there is none."""

    template_name = "portal/no_tenant.html"

    def get(self, request, *args, **kwargs):
        memberships = list(memberships_for_user(user=request.user))
        if not memberships:
            return super().get(request, *args, **kwargs)
        last = request.session.get("last_tenant")
        slugs = [m.tenant.slug for m in memberships]
        slug = last if last in slugs else slugs[0]
        return redirect("portal:home", tenant_slug=slug)


class HomeView(TenantView):
    template_name = "portal/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.membership.is_partner_side:
            partner = self.membership.partner
            context["partner"] = partner
            context["partner_tags"] = partner.tags.all()
            context["team"] = Membership.objects.for_tenant(self.tenant).filter(
                partner=partner
            ).select_related("user")
        else:
            partners = Partner.objects.for_tenant(self.tenant)
            context["partner_counts"] = partners.aggregate(
                total=Count("id"),
                active=Count("id", filter=Q(is_active=True, paused=False)),
                paused=Count("id", filter=Q(paused=True)),
            )
            context["member_count"] = Membership.objects.for_tenant(self.tenant).count()
            context["open_invitations"] = sum(
                1 for i in Invitation.objects.for_tenant(self.tenant).filter(
                    accepted_at__isnull=True, revoked_at__isnull=True
                ) if i.is_open
            )
        return context


class PartnerListView(TenantListView):
    model = Partner
    required_perm = Perm.VIEW_PARTNERS
    template_name = "portal/partner_list.html"
    paginate_by = 25

    def tenant_queryset(self):
        queryset = Partner.objects.select_related("tier").prefetch_related("tags")
        self.filter_form = PartnerFilterForm(self.request.GET or None, tenant=self.tenant)
        if self.filter_form.is_valid():
            q = self.filter_form.cleaned_data["q"]
            if q:
                queryset = queryset.filter(
                    Q(name__icontains=q) | Q(external_id__icontains=q)
                    | Q(contact_email__icontains=q)
                )
            if self.filter_form.cleaned_data["tier"]:
                queryset = queryset.filter(tier__name=self.filter_form.cleaned_data["tier"])
        return queryset.order_by("name")

    def get_template_names(self):
        if self.request.htmx:
            return ["portal/partials/partner_rows.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter_form"] = self.filter_form
        return context


class PartnerDetailView(TenantObjectView):
    model = Partner
    required_perm = Perm.VIEW_PARTNERS
    template_name = "portal/partner_detail.html"
    context_object_name = "partner"

    def tenant_queryset(self):
        return Partner.objects.select_related("tier").prefetch_related("tags", "out_of_office")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["team"] = Membership.objects.for_tenant(self.tenant).filter(
            partner=self.object
        ).select_related("user")
        return context


def _team_scope(queryset, membership: Membership):
    """Partner admins see and manage only their own partner's people."""
    if membership.is_partner_side:
        return queryset.filter(partner_id=membership.partner_id)
    return queryset


class MemberListView(TenantListView):
    model = Membership
    required_perm = Perm.VIEW_MEMBERS
    template_name = "portal/member_list.html"
    context_object_name = "members"

    def tenant_queryset(self):
        queryset = Membership.objects.select_related("user", "partner").order_by(
            "role", "user__email"
        )
        return _team_scope(queryset, self.membership)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["grantable_roles"] = roles_grantable_by(self.membership.role)
        context["role_forms"] = {
            m.pk: MembershipRoleForm(
                actor=self.membership,
                initial={"role": m.role, "partner": m.partner.public_id if m.partner else None},
                prefix=str(m.public_id),
            )
            for m in context["members"]
            if m.role in context["grantable_roles"] and m.pk != self.membership.pk
        }
        return context


def _membership_get(view: TenantView, public_id) -> Membership:
    queryset = _team_scope(Membership.objects.for_tenant(view.tenant), view.membership)
    return get_object_or_404(queryset.select_related("user", "partner"), public_id=public_id)


class MemberRoleView(TenantActionView):
    required_perm = Perm.MANAGE_MEMBERS

    def post(self, request, *args, **kwargs):
        member = _membership_get(self, kwargs["public_id"])
        form = MembershipRoleForm(request.POST, actor=self.membership, prefix=str(member.public_id))
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        else:
            try:
                membership_change_role(
                    membership=member, role=form.cleaned_data["role"],
                    partner=form.cleaned_data["partner"], actor=self.membership,
                )
                messages.success(request, _("Role of %(user)s changed.") % {"user": member.user})
            except DomainError as exc:
                messages.error(request, exc.message)
        return redirect("portal:members", tenant_slug=self.tenant.slug)


class MemberRemoveView(TenantActionView):
    required_perm = Perm.MANAGE_MEMBERS

    def post(self, request, *args, **kwargs):
        member = _membership_get(self, kwargs["public_id"])
        try:
            membership_remove(membership=member, actor=self.membership)
            messages.success(request, _("%(user)s was removed.") % {"user": member.user})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:members", tenant_slug=self.tenant.slug)


class InvitationListView(TenantFormView):
    required_perm = Perm.MANAGE_MEMBERS
    template_name = "portal/invitation_list.html"
    form_class = InvitationForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["actor"] = self.membership
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        invitations = Invitation.objects.for_tenant(self.tenant).select_related(
            "partner", "invited_by"
        )
        context["invitations"] = _team_scope(invitations, self.membership)[:100]
        return context

    def form_valid(self, form):
        try:
            invitation, _token = invitation_create(
                tenant=self.tenant, invited_by=self.membership, email=form.cleaned_data["email"],
                role=form.cleaned_data["role"], partner=form.cleaned_data["partner"],
            )
        except DomainError as exc:
            field = exc.code if exc.code in form.fields else None
            form.add_error(field, exc.message)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
        )
        return redirect("portal:invitations", tenant_slug=self.tenant.slug)


class InvitationRevokeView(TenantActionView):
    required_perm = Perm.MANAGE_MEMBERS

    def post(self, request, *args, **kwargs):
        queryset = _team_scope(Invitation.objects.for_tenant(self.tenant), self.membership)
        invitation = get_object_or_404(queryset, public_id=kwargs["public_id"])
        try:
            invitation_revoke(invitation=invitation, actor=self.membership)
            messages.success(request, _("Invitation revoked."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:invitations", tenant_slug=self.tenant.slug)


class AuditListView(TenantListView):
    model = AuditEntry
    required_perm = Perm.VIEW_AUDIT
    template_name = "portal/audit_list.html"
    context_object_name = "entries"


class ProfileView(LoginRequiredMixin, UpdateView):
    """`/me/`: name, language, time zone, and which notifications also come by email."""

    form_class = ProfileForm
    template_name = "portal/profile.html"

    def get_object(self, queryset=None):
        return self.request.user

    def get_preferences_form(self) -> NotificationPreferencesForm:
        return NotificationPreferencesForm(
            self.request.POST if self.request.method == "POST" else None,
            preferences=notification_email_preferences(user=self.request.user),
        )

    def get_context_data(self, **kwargs):
        kwargs.setdefault("preferences_form", self.get_preferences_form())
        return super().get_context_data(**kwargs)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = self.get_form()
        preferences_form = self.get_preferences_form()
        if form.is_valid() and preferences_form.is_valid():
            # Only the boxes that changed are written: a kind never touched keeps no row.
            for kind in preferences_form.changed_data:
                notification_preference_set(user=request.user, kind=kind,
                                            email=preferences_form.cleaned_data[kind])
            return self.form_valid(form)
        return self.render_to_response(
            self.get_context_data(form=form, preferences_form=preferences_form)
        )

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your settings were saved."))
        return response

    def get_success_url(self):
        return reverse("profile")


class InvitationAcceptView(View):
    """`/invitations/<token>/`: the token is the credential; no tenant data without it."""

    template_name = "portal/invitation_accept.html"

    def dispatch(self, request, *args, token, **kwargs):
        self.invitation = invitation_get_by_token(token=token)
        user = request.user
        if (self.invitation and user.is_authenticated
                and user.email.lower() != self.invitation.email.lower()):
            # Signed in as someone else: say so without showing whose invitation it is.
            raise PermissionDenied(_("This invitation was sent to another email address."))
        return super().dispatch(request, *args, token=token, **kwargs)

    def get(self, request, token):
        form = AcceptInvitationForm()
        return render(request, self.template_name, self._context(self.invitation, form))

    def post(self, request, token):
        invitation = self.invitation
        if invitation is None or not invitation.is_open:
            return render(request, self.template_name, self._context(invitation, None), status=410)
        user = request.user if request.user.is_authenticated else None
        form = AcceptInvitationForm(request.POST) if user is None else None
        if form is not None and not form.is_valid():
            return render(request, self.template_name, self._context(invitation, form), status=400)
        try:
            membership = invitation_accept(
                token=token, user=user,
                name=form.cleaned_data["name"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
            )
        except DomainError as exc:
            if form is not None and exc.code == "password":
                form.add_error("password1", exc.message)
            else:
                messages.error(request, exc.message)
            return render(request, self.template_name, self._context(invitation, form), status=400)
        if user is None:
            from allauth.account.utils import perform_login

            perform_login(request, membership.user, email_verification="none")
        messages.success(request, _("Welcome to %(tenant)s.") % {"tenant": membership.tenant.name})
        return HttpResponseRedirect(reverse("portal:home", args=[membership.tenant.slug]))

    def _context(self, invitation, form):
        user = self.request.user
        return {
            "invitation": invitation if invitation and invitation.is_open else None,
            "form": form,
            "account_exists": bool(
                invitation and not user.is_authenticated
                and User.objects.filter(email__iexact=invitation.email).exists()
            )
            if invitation
            else False,
        }


# --- notifications ----------------------------------------------------------------------------

# How many of the newest notifications the header's panel shows.
NOTIFICATION_PANEL_SIZE = 8


def _back_url(request, fallback: str) -> str:
    """Where a plain (non-htmx) form returns to: its `next`, if that stays on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class NotificationListView(TenantListView):
    """`/<slug>/notifications/`: the person's own notifications at this vendor, newest first."""

    template_name = "portal/notification_list.html"
    context_object_name = "notifications"
    paginate_by = 25

    def tenant_queryset(self):
        return notifications_for_user(tenant=self.tenant, user=self.request.user)


class NotificationPanelView(TenantListView):
    """The header bell's panel (an htmx partial); a browser without htmx gets the full list."""

    template_name = "portal/partials/notification_panel.html"
    context_object_name = "notifications"
    paginate_by = None

    def tenant_queryset(self):
        return notifications_for_user(tenant=self.tenant, user=self.request.user)

    def get(self, request, *args, **kwargs):
        if not request.htmx:
            response = redirect("portal:notifications", tenant_slug=self.tenant.slug)
        else:
            response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ("HX-Request",))
        return response

    def get_context_data(self, **kwargs):
        kwargs["object_list"] = self.object_list[:NOTIFICATION_PANEL_SIZE]
        return super().get_context_data(**kwargs)


class NotificationOpenView(TenantObjectView):
    """Following a notification marks it read and goes where it points."""

    def tenant_queryset(self):
        return notifications_for_user(tenant=self.tenant, user=self.request.user)

    def get(self, request, *args, **kwargs):
        notification = self.get_object()
        notification_mark_read(notification=notification)
        link = notification.link
        if not link or not url_has_allowed_host_and_scheme(
            link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            link = reverse("portal:notifications", args=[self.tenant.slug])
        return HttpResponseRedirect(link)


class NotificationReadView(TenantActionView):
    """Mark one notification read: htmx swaps the item (and the count); a form goes back."""

    def post(self, request, *args, **kwargs):
        notification = notification_get_for_user(
            tenant=self.tenant, user=request.user, public_id=kwargs["public_id"]
        )
        notification_mark_read(notification=notification)
        if request.htmx:
            return render(request, "portal/partials/notification_item.html", {
                "notification": notification, "tenant": self.tenant, "count_oob": True,
            })
        return redirect(_back_url(request, reverse("portal:notifications",
                                                   args=[self.tenant.slug])))


class NotificationReadAllView(TenantActionView):
    """Mark all of the person's notifications at this vendor read."""

    def post(self, request, *args, **kwargs):
        count = notification_mark_all_read(tenant=self.tenant, recipient=request.user)
        if request.htmx:
            return render(request, "portal/partials/notification_panel.html", {
                "notifications": notifications_for_user(
                    tenant=self.tenant, user=request.user)[:NOTIFICATION_PANEL_SIZE],
                "tenant": self.tenant,
            })
        messages.success(request, ngettext(
            "%(count)d notification marked as read.", "%(count)d notifications marked as read.",
            count) % {"count": count})
        return redirect(_back_url(request, reverse("portal:notifications",
                                                   args=[self.tenant.slug])))


# --- leads ------------------------------------------------------------------------------------

class LeadDetailView(TenantObjectView):
    """`/<slug>/leads/<id>/`: one lead, read-only. Vendor roles see every lead of the vendor,
    partner roles only their own partner's (another lead answers 404, as if it did not exist).
    """

    required_perm = Perm.VIEW_LEADS
    template_name = "portal/lead_detail.html"
    context_object_name = "lead"

    def tenant_queryset(self):
        return leads_visible_to(membership=self.membership).select_related(
            "account", "account__owner", "partner", "stage", "duplicate_of"
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lead = self.object
        visible = self.get_queryset()
        # The earlier lead is linked only if this member may open it.
        context["duplicate_of_visible"] = bool(
            lead.duplicate_of_id and visible.filter(pk=lead.duplicate_of_id).exists()
        )
        context["duplicates"] = visible.filter(duplicate_of=lead).order_by("created_at")[:20]
        context["custom_fields"] = lead_custom_field_values(tenant=self.tenant, lead=lead)
        context["activities"] = lead.activities.all()[:TIMELINE_LIMIT]
        context["timeline"] = lead_timeline(lead=lead)
        context["timeline_limit"] = TIMELINE_LIMIT
        context["contact_hidden"] = lead_contact_hidden(lead=lead, membership=self.membership)
        context["routing"] = lead_routing_for(lead=lead, membership=self.membership)
        return context
