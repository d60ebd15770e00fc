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
]
