from django.urls import path

from portal import views

app_name = "portal"

# Mounted under /<tenant_slug>/ (config/urls.py).
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("partners/", views.PartnerListView.as_view(), name="partners"),
    path("partners/<uuid:public_id>/", views.PartnerDetailView.as_view(), name="partner"),
    path("members/", views.MemberListView.as_view(), name="members"),
    path("members/<uuid:public_id>/role/", views.MemberRoleView.as_view(), name="member-role"),
    path("members/<uuid:public_id>/remove/", views.MemberRemoveView.as_view(),
         name="member-remove"),
    path("invitations/", views.InvitationListView.as_view(), name="invitations"),
    path("invitations/<uuid:public_id>/revoke/", views.InvitationRevokeView.as_view(),
         name="invitation-revoke"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    path("notifications/", views.NotificationListView.as_view(), name="notifications"),
    path("notifications/panel/", views.NotificationPanelView.as_view(),
         name="notifications-panel"),
    path("notifications/read-all/", views.NotificationReadAllView.as_view(),
         name="notifications-read-all"),
    path("notifications/<uuid:public_id>/", views.NotificationOpenView.as_view(),
         name="notification"),
    path("notifications/<uuid:public_id>/read/", views.NotificationReadView.as_view(),
         name="notification-read"),
    # Notifications link here (notifications.services._lead_link).
    path("leads/<uuid:public_id>/", views.LeadDetailView.as_view(), name="lead"),
]
