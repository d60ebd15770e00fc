from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from tenancy.models import AuditEntry, Invitation, Membership, Tenant, User


class ReadOnlyAdminMixin:
    """History and logs (audit, lead events, deliveries): readable in the admin, never
    added, changed or deleted there. Works for model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "language", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("name", "language", "time_zone")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups",
                                       "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    raw_id_fields = ["partner"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "default_language", "currency", "is_active"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "partner", "created_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["user__email", "tenant__slug"]
    raw_id_fields = ["user", "partner"]

    def save_model(self, request, obj, form, change):
        if not change and obj.partner_id:
            obj.tenant_id = obj.partner.tenant_id
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "partner", "created_at", "expires_at",
                    "accepted_at", "revoked_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["email"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by", "invited_by"]

    def has_add_permission(self, request):
        # Invitations are created in the portal, which emails the one-time link.
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "tenant", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["tenant", "action"]
    search_fields = ["actor_label", "object_repr", "object_id"]
