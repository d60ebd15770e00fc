from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from tenancy.actors import Actor


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "scope", "prefix", "created_at", "last_used_at",
                    "revoked_at")
    list_filter = ("tenant", "scope")
    search_fields = ("name", "prefix")
    fields = ("tenant", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A key's tenant and scope are fixed once it exists: revoke and create another.
        if obj is not None:
            return (*self.readonly_fields, "tenant", "name", "scope")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, secret = api_key_create(
            tenant=form.cleaned_data["tenant"], name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"], actor=Actor.for_user(request.user),
        )
        obj.pk = key.pk
        self.message_user(
            request,
            _("The new key, shown only now — copy it into your CRM: %(secret)s")
            % {"secret": secret},
            messages.WARNING,
        )

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the audit trail keeps who used which key.
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key, actor=Actor.for_user(request.user))
