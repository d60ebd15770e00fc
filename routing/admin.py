"""Django admin for routing, for support: rule versions, decisions and offers are readable
here; they change only through routing/rules.py and routing/services.py."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from routing.models import Decision, Offer, RoutingRule, RuleSet
from routing.selectors import decision_explain
from tenancy.admin import ReadOnlyAdminMixin


class RoutingRuleInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RoutingRule
    extra = 0
    fields = ["position", "name", "strategy", "conditions", "required_tags", "any_tag_groups",
              "min_tier_rank", "share_cap_percent", "prequalify", "fallback_partners"]
    readonly_fields = fields


@admin.register(RuleSet)
class RuleSetAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["version", "status", "tenant", "created_at", "activated_at",
                    "activated_by_label", "note"]
    list_filter = ["tenant", "status"]
    inlines = [RoutingRuleInline]


class OfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Offer
    extra = 0
    fields = ["partner", "status", "is_pool", "offered_at", "due_at", "responded_at",
              "decline_reason", "reason_text"]
    readonly_fields = fields


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "lead", "rule", "partner", "tenant"]
    list_filter = ["tenant", "kind"]
    raw_id_fields = ["lead"]
    fields = ["lead", "kind", "rule", "partner", "created_at", "explanation", "trace"]
    readonly_fields = ["explanation"]
    inlines = [OfferInline]

    @admin.display(description=_("explanation"))
    def explanation(self, decision):
        return format_html_join("\n", "<p>{}</p>", (
            (line,) for line in decision_explain(decision=decision)["lines"]))


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["offered_at", "lead", "partner", "status", "is_pool", "due_at",
                    "responded_at", "decline_reason", "tenant"]
    list_filter = ["tenant", "status", "decline_reason"]
    raw_id_fields = ["lead"]
