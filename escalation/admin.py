from django.contrib import admin

from escalation.models import BusinessCalendar, Heartbeat, SlaPolicy, SlaStep
from partners.admin import TenantOwnedAdmin


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at", "worker_hostname", "count"]
    readonly_fields = ["name", "beat_at", "worker_hostname", "count"]


class SlaStepInline(admin.TabularInline):
    model = SlaStep
    extra = 1
    fields = ["after_minutes", "action", "position"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantOwnedAdmin):
    list_display = ["name", "count", "is_default", "pause_when_away", "expiry_streak_notify",
                    "tenant"]
    list_filter = ["tenant", "count"]
    inlines = [SlaStepInline]

    def save_formset(self, request, form, formset, change):
        # Steps belong to the policy's vendor.
        for step in formset.save(commit=False):
            step.tenant_id = form.instance.tenant_id
            step.save()
        for step in formset.deleted_objects:
            step.delete()


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TenantOwnedAdmin):
    list_display = ["name", "time_zone", "opens_at", "closes_at", "is_default", "tenant"]
    list_filter = ["tenant"]
