from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views as config_views
from portal import views as portal_views

urlpatterns = [
    path("healthz", config_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", portal_views.language_set, name="set_language"),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Read-only page: any other method gets a plain 405 (its HTML renderer has no error page).
    path("api/docs/", require_safe(SpectacularSwaggerView.as_view(url_name="api-schema")),
         name="api-docs"),
    path("me/", portal_views.ProfileView.as_view(), name="profile"),
    path("invitations/<str:token>/", portal_views.InvitationAcceptView.as_view(),
         name="invitation_accept"),
    path("", portal_views.StartView.as_view(), name="start"),
    # Tenant portals come last: every top-level segment above is a reserved slug.
    path("<slug:tenant_slug>/", include("portal.urls")),
]

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
