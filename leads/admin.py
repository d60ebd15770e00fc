"""Django admin for leads: read-mostly. A lead's state changes only through leads/services.py,
so status, partner, stage and outcome are read-only here; actions call the services."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from leads.models import Account, Activity, CustomField, Lead, LeadEvent, PipelineStage
from leads.services import lead_duplicate_unlink
from partners.admin import TenantOwnedAdmin
from tenancy.actors import Actor
from tenancy.admin import ReadOnlyAdminMixin
from tenancy.errors import DomainError


@admin.register(CustomField)
class CustomFieldAdmin(TenantOwnedAdmin):
    list_display = ["key", "label", "kind", "required", "position", "tenant"]
    list_filter = ["tenant", "kind"]


@admin.register(PipelineStage)
class PipelineStageAdmin(TenantOwnedAdmin):
    list_display = ["name", "key", "position", "tenant"]
    list_filter = ["tenant"]


@admin.register(Account)
class AccountAdmin(TenantOwnedAdmin):
    list_display = ["__str__", "domain", "crm_account_id", "owner", "protected_until", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["name", "domain", "crm_account_id"]
    raw_id_fields = ["owner"]


class ActivityInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Activity
    extra = 0
    fields = ["occurred_at", "kind", "author_label", "body"]
    readonly_fields = fields


class LeadEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LeadEvent
    extra = 0
    fields = ["created_at", "kind", "actor_label", "from_status", "to_status", "data"]
    readonly_fields = fields


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdminMixin, TenantOwnedAdmin):
    # Leads arrive through the API, the portal and imports, which route and record them.
    list_display = ["__str__", "status", "partner", "source_kind", "country", "external_id",
                    "is_duplicate", "created_at", "tenant"]
    list_filter = ["tenant", "status", "source_kind"]
    search_fields = ["external_id", "contact_email", "contact_name", "company_name",
                     "company_domain"]
    readonly_fields = ["public_id", "status", "account", "partner", "stage", "duplicate_of",
                       "won_value", "closed_on", "lost_reason", "email_key", "created_at",
                       "updated_at"]
    inlines = [ActivityInline, LeadEventInline]
    actions = ["unlink_duplicates"]

    @admin.display(boolean=True, description=_("duplicate"))
    def is_duplicate(self, lead):
        return lead.duplicate_of_id is not None

    @admin.action(description=_("Not a duplicate: unlink the selected leads"))
    def unlink_duplicates(self, request, queryset):
        done = 0
        for lead in queryset.filter(duplicate_of__isnull=False):
            try:
                lead_duplicate_unlink(lead=lead, actor=Actor.for_user(request.user))
                done += 1
            except DomainError as error:
                self.message_user(request, f"{lead}: {error.message}", messages.WARNING)
        self.message_user(request, _("%(count)d lead(s) unlinked.") % {"count": done})


@admin.register(LeadEvent)
class LeadEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only history, for support: readable, never editable."""

    list_display = ["created_at", "kind", "lead", "actor_label", "from_status", "to_status",
                    "tenant"]
    list_filter = ["tenant", "kind"]
    raw_id_fields = ["lead"]
