from django.urls import path

from leads import api as leads_api
from leads import feed as leads_feed
from notifications import api as notifications_api
from partners import api as partners_api
from routing import api as routing_api

app_name = "api"

# Mounted at /api/v1/. Every view derives from api.views.TenantAPIView.
urlpatterns = [
    path("leads/", leads_api.LeadListCreateView.as_view(), name="leads"),
    path("leads/bulk/", leads_api.LeadBulkCreateView.as_view(), name="leads-bulk"),
    # path: CRM ids may contain slashes (the route has nothing below it).
    path("leads/by-external-id/<path:external_id>/", leads_api.LeadByExternalIdView.as_view(),
         name="lead-by-external-id"),
    path("leads/<uuid:id>/", leads_api.LeadDetailView.as_view(), name="lead"),
    path("leads/<uuid:id>/activities/", leads_api.LeadActivityCreateView.as_view(),
         name="lead-activities"),
    path("leads/<uuid:id>/won/", leads_api.LeadWonView.as_view(), name="lead-won"),
    path("leads/<uuid:id>/lost/", leads_api.LeadLostView.as_view(), name="lead-lost"),
    path("leads/<uuid:id>/unlink-duplicate/", leads_api.LeadUnlinkDuplicateView.as_view(),
         name="lead-unlink-duplicate"),
    path("leads/<uuid:id>/decisions/", routing_api.LeadDecisionListView.as_view(),
         name="lead-decisions"),
    path("leads/<uuid:id>/reassign/", routing_api.LeadReassignView.as_view(),
         name="lead-reassign"),
    path("leads/<uuid:id>/route/", routing_api.LeadRouteView.as_view(), name="lead-route"),
    path("leads/<uuid:id>/review/release/", routing_api.LeadReviewReleaseView.as_view(),
         name="lead-review-release"),
    path("leads/<uuid:id>/reject/", routing_api.LeadRejectView.as_view(), name="lead-reject"),
    path("leads/<uuid:id>/resolve-conflict/", routing_api.LeadConflictResolveView.as_view(),
         name="lead-resolve-conflict"),
    path("partners/", partners_api.PartnerListCreateView.as_view(), name="partners"),
    path("partners/by-external-id/<path:external_id>/",
         partners_api.PartnerByExternalIdView.as_view(), name="partner-by-external-id"),
    path("partners/<uuid:id>/", partners_api.PartnerDetailView.as_view(), name="partner"),
    path("events/", leads_feed.EventFeedView.as_view(), name="events"),
    path("custom-fields/", leads_api.CustomFieldListView.as_view(), name="custom-fields"),
    path("pipeline-stages/", leads_api.PipelineStageListView.as_view(), name="pipeline-stages"),
    path("webhook-endpoints/", notifications_api.WebhookEndpointListCreateView.as_view(),
         name="webhook-endpoints"),
    path("webhook-endpoints/<uuid:id>/", notifications_api.WebhookEndpointDetailView.as_view(),
         name="webhook-endpoint"),
    path("webhook-endpoints/<uuid:id>/rotate-secret/",
         notifications_api.WebhookEndpointRotateSecretView.as_view(),
         name="webhook-endpoint-rotate-secret"),
    path("webhook-endpoints/<uuid:id>/test/",
         notifications_api.WebhookEndpointTestView.as_view(), name="webhook-endpoint-test"),
    path("webhook-endpoints/<uuid:id>/deliveries/",
         notifications_api.WebhookEndpointDeliveryListView.as_view(),
         name="webhook-endpoint-deliveries"),
    path("webhook-deliveries/<uuid:id>/redeliver/",
         notifications_api.WebhookDeliveryRedeliverView.as_view(),
         name="webhook-delivery-redeliver"),
]
