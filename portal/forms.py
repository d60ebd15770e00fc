import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.models import NotificationKind
from partners.models import Partner
from tenancy.models import Membership, User
from tenancy.roles import PARTNER_ROLES, Role, roles_grantable_by


def _time_zone_choices():
    return [("", _("— the vendor's time zone —"))] + [
        (name, name) for name in sorted(zoneinfo.available_timezones())
    ]


class RoleAndPartnerForm(forms.Form):
    """Role choices narrowed to what the acting member may grant; partner for partner roles."""

    role = forms.ChoiceField(label=_("Role"))
    partner = forms.ModelChoiceField(
        label=_("Partner"), queryset=Partner.objects.none(), required=False,
        to_field_name="public_id", help_text=_("Required for partner roles."),
    )

    def __init__(self, *args, actor: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        grantable = roles_grantable_by(actor.role)
        self.fields["role"].choices = [(r, Role(r).label) for r in grantable]
        partners = Partner.objects.for_tenant(actor.tenant).filter(is_active=True)
        if actor.is_partner_side:
            partners = partners.filter(pk=actor.partner_id)
            self.fields["partner"].initial = actor.partner
        self.fields["partner"].queryset = partners

    def clean(self):
        cleaned = super().clean()
        role, partner = cleaned.get("role"), cleaned.get("partner")
        if self.actor.is_partner_side:
            cleaned["partner"] = partner = self.actor.partner
        if role in PARTNER_ROLES and partner is None:
            self.add_error("partner", _("Choose the partner this person works for."))
        if role and role not in PARTNER_ROLES:
            cleaned["partner"] = None
        return cleaned


class InvitationForm(RoleAndPartnerForm):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    field_order = ["email", "role", "partner"]


class MembershipRoleForm(RoleAndPartnerForm):
    pass


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), max_length=128,
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    class Meta:
        model = User
        fields = ["name", "language", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _time_zone_choices()
        self.fields["language"].choices = [("", _("— as the browser says —"))] + list(
            settings.LANGUAGES
        )


class PartnerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    tier = forms.ChoiceField(label=_("Tier"), required=False)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        from partners.models import Tier

        self.fields["tier"].choices = [("", _("All tiers"))] + [
            (t.name, t.name) for t in Tier.objects.for_tenant(tenant)
        ]


class NotificationPreferencesForm(forms.Form):
    """One "send email" box per kind of notification; in-app notifications always stay on."""

    def __init__(self, *args, preferences: dict[str, bool], **kwargs):
        kwargs.setdefault("prefix", "email")
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            self.fields[kind.value] = forms.BooleanField(
                label=kind.label, required=False, initial=preferences.get(kind.value, True)
            )
