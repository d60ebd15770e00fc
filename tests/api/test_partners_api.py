"""The partner endpoints: the vendor's CRM keeps its partner list in sync; every change is
audited."""

import pytest

from partners.models import Partner, Tag
from tenancy.models import AuditEntry
from tests.api.conftest import assert_problem
from tests.factories import PartnerFactory, PartnerTagFactory, TagFactory, TierFactory

pytestmark = pytest.mark.django_db

PARTNERS = "/api/v1/partners/"


def _url(partner) -> str:
    return f"{PARTNERS}{partner.public_id}/"


def _audit(partner) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type="partner", object_id=str(partner.public_id))
                .order_by("id"))


def _tags(partner) -> list[str]:
    return sorted(str(tag) for tag in partner.tags.all())


def test_create_with_tier_by_name_and_tags(api, vendor_a):
    TierFactory(tenant=vendor_a, name="Gold")

    response = api.post(PARTNERS, {
        "name": "Alpine IT GmbH", "external_id": "ACC-42", "tier": "gold",
        "tags": ["vertical:manufacturing-erp", "region:de-by", "region:de-by"],
        "capacity": 25, "routing_weight": 150, "contact_email": "leads@alpine-it.example",
        "time_zone": "Europe/Vienna",
    })

    assert response.status_code == 201, response.content
    body = response.json()
    partner = Partner.objects.get(public_id=body["id"])
    assert response["Location"] == f"/api/v1/partners/{partner.public_id}/"
    assert partner.tenant == vendor_a and partner.tier.name == "Gold"
    assert body["tier"] == "Gold" and body["external_id"] == "ACC-42"
    # Labels come back sorted and de-duplicated.
    assert body["tags"] == ["region:de-by", "vertical:manufacturing-erp"]
    assert _tags(partner) == body["tags"]
    assert (body["capacity"], body["routing_weight"], body["time_zone"]) == (
        25, 150, "Europe/Vienna")
    assert body["is_active"] is True
    [entry] = _audit(partner)
    assert entry.action == "partner.create" and entry.tenant == vendor_a
    assert entry.actor_label == "api key: test read_write"
    assert entry.after["tier"] == "Gold"
    assert entry.after["tags"] == ["region:de-by", "vertical:manufacturing-erp"]


def test_tier_of_another_vendor_or_unknown_is_refused(api, vendor_b):
    TierFactory(tenant=vendor_b, name="Platinum")

    for tier in ("Platinum", "Diamond"):
        assert_problem(api.post(PARTNERS, {"name": "X", "tier": tier}), 400, "/tier")

    assert Partner.objects.count() == 0 and AuditEntry.objects.filter(
        action__startswith="partner").count() == 0


@pytest.mark.parametrize("payload,pointer", [
    ({}, "/name"),
    ({"name": "X", "tags": ["no-colon"]}, "/tags/0"),
    ({"name": "X", "tags": "region:de"}, "/tags"),
    ({"name": "X", "tags": ["region:de", "Region:DE"]}, "/tags/1"),
    ({"name": "X", "capacity": -1}, "/capacity"),
    ({"name": "X", "routing_weight": 0}, "/routing_weight"),
    ({"name": "X", "time_zone": "Mars/Olympus"}, "/time_zone"),
    ({"name": "X", "contact_email": "nope"}, "/contact_email"),
    ({"name": "X", "id": "00000000-0000-0000-0000-000000000000"}, "/id"),
])
def test_create_validates_fields(api, payload, pointer):
    assert_problem(api.post(PARTNERS, payload), 400, pointer)
    assert Partner.objects.count() == 0


def test_taken_external_id_is_a_conflict(api, vendor_a):
    PartnerFactory(tenant=vendor_a, external_id="ACC-1")

    body = assert_problem(api.post(PARTNERS, {"name": "Copy", "external_id": "ACC-1"}), 409)

    assert body["code"] == "external_id_taken"
    assert Partner.objects.filter(external_id="ACC-1").count() == 1


def test_update_by_id_audits_only_what_changed(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a, name="Old Name", capacity=5)

    response = api.patch(_url(partner), {"name": "New Name", "capacity": 5, "paused": True,
                                         "paused_reason": "Trade fair"})

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "New Name" and response.json()["paused"] is True
    partner.refresh_from_db()
    assert (partner.name, partner.paused, partner.paused_reason) == (
        "New Name", True, "Trade fair")
    [entry] = _audit(partner)
    assert entry.action == "partner.update"
    assert entry.before == {"name": "Old Name", "paused": False}
    assert entry.after == {"name": "New Name", "paused": True}


def test_update_without_a_change_writes_no_audit_entry(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a, name="Same")

    assert api.patch(_url(partner), {"name": "Same"}).status_code == 200

    assert _audit(partner) == []


def test_update_by_external_id(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a, external_id="ACC-7")
    TierFactory(tenant=vendor_a, name="Silver")

    response = api.patch(f"{PARTNERS}by-external-id/ACC-7/", {"tier": "Silver"})

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(partner.public_id)
    partner.refresh_from_db()
    assert partner.tier.name == "Silver"
    assert api.get(f"{PARTNERS}by-external-id/ACC-7/").json()["tier"] == "Silver"
    assert_problem(api.get(f"{PARTNERS}by-external-id/ACC-8/"), 404)


def test_update_to_a_taken_external_id_is_a_conflict(api, vendor_a):
    PartnerFactory(tenant=vendor_a, external_id="TAKEN")
    partner = PartnerFactory(tenant=vendor_a, external_id="MINE")

    assert assert_problem(api.patch(_url(partner), {"external_id": "TAKEN"}), 409)["code"] == (
        "external_id_taken")

    partner.refresh_from_db()
    assert partner.external_id == "MINE" and _audit(partner) == []


def test_tags_given_on_update_replace_the_partners_tags(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a)
    PartnerTagFactory(partner=partner, tag=TagFactory(tenant=vendor_a, key="region",
                                                      value="de-by"))
    PartnerTagFactory(partner=partner, tag=TagFactory(tenant=vendor_a, key="language",
                                                      value="de"))

    replaced = api.patch(_url(partner), {"tags": ["language:de", "vertical:retail"]})
    kept = api.patch(_url(partner), {"name": "Tags untouched"})

    assert replaced.json()["tags"] == ["language:de", "vertical:retail"]
    assert kept.json()["tags"] == ["language:de", "vertical:retail"]
    assert _tags(partner) == ["language:de", "vertical:retail"]
    entry = _audit(partner)[0]
    assert entry.before["tags"] == ["language:de", "region:de-by"]
    assert entry.after["tags"] == ["language:de", "vertical:retail"]
    # The tag itself stays in the vendor's list; only the partner's link went.
    assert Tag.objects.filter(tenant=vendor_a, key="region", value="de-by").exists()

    assert api.patch(_url(partner), {"tags": []}).json()["tags"] == []
    assert _tags(partner) == []


def test_delete_deactivates_and_keeps_the_partner(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a)

    response = api.delete(_url(partner))

    assert response.status_code == 204 and response.content == b""
    partner.refresh_from_db()
    assert partner.is_active is False
    [entry] = _audit(partner)
    assert entry.action == "partner.deactivate"
    assert (entry.before, entry.after) == ({"is_active": True}, {"is_active": False})
    # Again: still 204, nothing more to audit; and PATCH brings it back.
    assert api.delete(_url(partner)).status_code == 204
    assert len(_audit(partner)) == 1
    assert api.patch(_url(partner), {"is_active": True}).json()["is_active"] is True


def test_delete_by_external_id(api, vendor_a):
    partner = PartnerFactory(tenant=vendor_a, external_id="ACC-3")

    assert api.delete(f"{PARTNERS}by-external-id/ACC-3/").status_code == 204

    partner.refresh_from_db()
    assert partner.is_active is False


def test_list_filters(api, vendor_a, vendor_b):
    bavaria = TagFactory(tenant=vendor_a, key="region", value="de-by")
    first = PartnerFactory(tenant=vendor_a, external_id="ACC-1")
    second = PartnerFactory(tenant=vendor_a, external_id="ACC-2", is_active=False)
    third = PartnerFactory(tenant=vendor_a, external_id="ACC-3")
    PartnerTagFactory(partner=first, tag=bavaria)
    PartnerTagFactory(partner=second, tag=bavaria)
    PartnerTagFactory(partner=first, tag=TagFactory(tenant=vendor_a, key="language",
                                                    value="de"))
    PartnerFactory(tenant=vendor_b, external_id="ACC-1")

    def ids(**query):
        response = api.get(PARTNERS, query)
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    def expected(*partners):
        return sorted(str(p.public_id) for p in partners)

    assert ids() == expected(first, second, third)
    assert ids(external_id="ACC-1") == expected(first)
    assert ids(is_active="false") == expected(second)
    assert ids(is_active="true") == expected(first, third)
    # A partner with two tags is listed once; the label is matched case-insensitively.
    assert ids(tag="Region:DE-BY") == expected(first, second)
    assert ids(tag="region:de-by", is_active="true") == expected(first)
    assert ids(tag="language:fr") == []


def test_partner_of_another_vendor_is_404(api, vendor_b):
    partner = PartnerFactory(tenant=vendor_b, external_id="B-1", name="Bravo")

    assert_problem(api.get(_url(partner)), 404)
    assert_problem(api.patch(_url(partner), {"name": "Hijacked"}), 404)
    assert_problem(api.delete(f"{PARTNERS}by-external-id/B-1/"), 404)

    partner.refresh_from_db()
    assert (partner.name, partner.is_active) == ("Bravo", True)
