from django.contrib import admin

from partners.models import OutOfOffice, Partner, PartnerTag, Tag, Tier


class TenantOwnedAdmin(admin.ModelAdmin):
    """The tenant is chosen when a row is added and never moved to another vendor after."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "tenant"] if obj else readonly


@admin.register(Tier)
class TierAdmin(TenantOwnedAdmin):
    list_display = ["name", "rank", "tenant"]
    list_filter = ["tenant"]


@admin.register(Tag)
class TagAdmin(TenantOwnedAdmin):
    list_display = ["__str__", "tenant"]
    list_filter = ["tenant", "key"]
    search_fields = ["key", "value"]


class PartnerTagInline(admin.TabularInline):
    model = PartnerTag
    extra = 0
    raw_id_fields = ["tag"]
    exclude = ["tenant"]


class OutOfOfficeInline(admin.TabularInline):
    model = OutOfOffice
    extra = 0
    exclude = ["tenant"]


@admin.register(Partner)
class PartnerAdmin(TenantOwnedAdmin):
    list_display = ["name", "tenant", "tier", "external_id", "is_active", "paused", "capacity",
                    "routing_weight"]
    list_filter = ["tenant", "tier", "is_active", "paused"]
    search_fields = ["name", "external_id", "contact_email"]
    inlines = [PartnerTagInline, OutOfOfficeInline]

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            instance.tenant_id = form.instance.tenant_id
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(OutOfOffice)
class OutOfOfficeAdmin(TenantOwnedAdmin):
    list_display = ["partner", "starts_on", "ends_on", "note"]
    list_filter = ["tenant"]
