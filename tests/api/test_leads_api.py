"""The lead endpoints' contract: what a CRM sends, what it gets back, and the rows written.

Every state change writes exactly one LeadEvent; refused changes write none.
"""

import datetime

import pytest
from django.utils import timezone

from leads.models import Account, Activity, Lead, LeadEvent, LeadStatus
from tests.api.conftest import assert_problem, counts, event_kinds
from tests.factories import (
    CustomFieldFactory,
    LeadFactory,
    PartnerFactory,
    PipelineStageFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
BULK = "/api/v1/leads/bulk/"


def _url(lead, action: str = "") -> str:
    return f"{LEADS}{lead.public_id}/{action + '/' if action else ''}"


def _accepted_lead(tenant, **fields):
    partner = PartnerFactory(tenant=tenant)
    return LeadFactory(tenant=tenant, status=LeadStatus.ACCEPTED, partner=partner, **fields)


# --- create one -----------------------------------------------------------------------------

def test_create_answers_201_with_location_and_the_stored_lead(api, vendor_a):
    response = api.post(LEADS, {
        "external_id": "00Q-1", "contact_name": "Julia Berger",
        "contact_email": "j.berger@berger-maschinenbau.de", "country": "DE", "region": "DE-BY",
        "language": "de-AT", "deal_size": "48000.5", "source_kind": "marketplace",
        "utm_source": "linkedin", "message": "ERP for 120 users",
    })

    assert response.status_code == 201, response.content
    body = response.json()
    lead = Lead.objects.get(public_id=body["id"])
    assert response["Location"] == f"/api/v1/leads/{lead.public_id}/"
    assert lead.tenant == vendor_a
    # The vendor has no routing rules: no partner is eligible, the lead waits unassigned.
    assert body["external_id"] == "00Q-1" and body["status"] == "unassigned"
    assert body["offers"] == [] and body["accepted_at"] is None
    assert body["contact_email"] == "j.berger@berger-maschinenbau.de"
    assert body["source_kind"] == "marketplace" and body["utm_source"] == "linkedin"
    assert body["region"] == "DE-BY" and body["language"] == "de-AT"
    # Decimals travel as strings; a deal size without a currency takes the vendor's.
    assert body["deal_size"] == "48000.50" and body["currency"] == vendor_a.currency
    assert body["partner"] is None and body["stage"] is None
    assert body["is_duplicate"] is False and body["duplicate_of"] is None
    created, routed = LeadEvent.objects.filter(lead=lead).order_by("id")
    assert (created.kind, created.from_status, created.to_status) == ("created", "", "received")
    assert (routed.kind, routed.from_status, routed.to_status) == (
        "unassigned", "received", "unassigned")
    assert created.actor_label == routed.actor_label == "api key: test read_write"


def test_account_comes_from_a_business_email_domain(api, vendor_a):
    response = api.post(LEADS, {"contact_email": "Anna@WWW.Berger-Bau.DE",
                                "company_name": "Berger Bau GmbH"})

    body = response.json()
    assert body["company_domain"] == "berger-bau.de"
    account = Account.objects.get(public_id=body["account"]["id"])
    assert account.tenant == vendor_a
    assert (account.domain, account.name) == ("berger-bau.de", "Berger Bau GmbH")
    assert body["account"]["domain"] == "berger-bau.de"


def test_website_wins_over_the_email_domain_for_the_account(api):
    body = api.post(LEADS, {"contact_email": "anna@gmail.com",
                            "company_website": "https://www.alpenhof.at/kontakt"}).json()

    assert body["company_domain"] == "alpenhof.at"
    assert body["account"]["domain"] == "alpenhof.at"


@pytest.mark.parametrize("email", ["anna@gmail.com", "Anna@GMX.de", "bob@web.de"])
def test_free_mail_address_never_makes_an_account(api, email):
    body = api.post(LEADS, {"contact_email": email}).json()

    assert body["company_domain"] == ""
    assert body["account"] is None
    assert Account.objects.count() == 0


def test_lead_without_consent_is_held_where_the_vendor_requires_consent(api, vendor_a):
    vendor_a.lead_consent_required = True
    vendor_a.save()

    held = api.post(LEADS, {"contact_email": "a@acme.example"}).json()
    received = api.post(LEADS, {"contact_email": "b@other.example",
                                "consent_basis": "legitimate_interest"}).json()

    assert held["status"] == "held"
    event = LeadEvent.objects.get(lead__public_id=held["id"])
    assert event.to_status == "held" and event.data["held"] == "no recorded consent"
    # With consent the lead goes on to routing (no rules here: unassigned).
    assert received["status"] == "unassigned"


def test_lead_without_consent_is_routed_where_the_vendor_does_not_require_it(api):
    assert api.post(LEADS, {"contact_email": "a@acme.example"}).json()["status"] == "unassigned"


def test_consent_as_legal_basis_needs_its_wording_and_time(api):
    before = counts()

    response = api.post(LEADS, {"contact_email": "a@acme.example", "consent_basis": "consent"})

    assert_problem(response, 400, "/consent_text", "/consent_captured_at")
    assert counts() == before


def test_a_lead_needs_an_email_or_a_phone(api):
    assert_problem(api.post(LEADS, {"contact_name": "Nobody"}), 400, "/contact_email")
    assert api.post(LEADS, {"contact_phone": "+49 89 1234567"}).status_code == 201


def test_same_email_case_folded_is_flagged_as_duplicate_of_the_first_lead(api):
    first = api.post(LEADS, {"contact_email": "Anna.Berger@gmail.com"}).json()

    second = api.post(LEADS, {"contact_email": "anna.berger@GMAIL.COM"}).json()

    assert first["is_duplicate"] is False
    assert second["is_duplicate"] is True and second["duplicate_of"] == first["id"]
    event = LeadEvent.objects.get(lead__public_id=second["id"], kind="created")
    assert event.data["duplicate_of"] == first["id"]


def test_same_account_is_flagged_as_duplicate(api):
    first = api.post(LEADS, {"contact_email": "anna@berger-bau.de"}).json()
    by_domain = api.post(LEADS, {"contact_email": "max@berger-bau.de"}).json()
    crm_first = api.post(LEADS, {"contact_phone": "+49 1", "crm_account_id": "ACC-7"}).json()
    by_crm_id = api.post(LEADS, {"contact_phone": "+49 2", "crm_account_id": "ACC-7"}).json()
    unrelated = api.post(LEADS, {"contact_email": "eva@alpenhof.at"}).json()

    assert by_domain["duplicate_of"] == first["id"]
    assert by_domain["account"]["id"] == first["account"]["id"]
    assert by_crm_id["duplicate_of"] == crm_first["id"]
    assert by_crm_id["account"]["crm_account_id"] == "ACC-7"
    assert unrelated["is_duplicate"] is False


def test_leads_of_another_vendor_are_never_duplicates(api, api_b):
    api_b.post(LEADS, {"contact_email": "anna@berger-bau.de"})

    body = api.post(LEADS, {"contact_email": "anna@berger-bau.de"}).json()

    assert body["is_duplicate"] is False


def test_unlink_duplicate_clears_the_flag_and_writes_one_event(api):
    first = api.post(LEADS, {"contact_email": "anna@gmail.com"}).json()
    second = Lead.objects.get(public_id=api.post(LEADS, {"contact_email": "ANNA@gmail.com"})
                              .json()["id"])

    response = api.post(_url(second, "unlink-duplicate"))

    assert response.status_code == 200, response.content
    assert response.json()["is_duplicate"] is False and response.json()["duplicate_of"] is None
    second.refresh_from_db()
    assert second.duplicate_of is None
    assert event_kinds(second) == ["created", "unassigned", "duplicate_unlinked"]
    event = LeadEvent.objects.filter(lead=second).last()
    assert event.data == {"was_duplicate_of": first["id"]}


def test_unlinking_a_lead_that_is_no_duplicate_is_a_conflict(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a)

    body = assert_problem(api.post(_url(lead, "unlink-duplicate")), 409)

    assert body["code"] == "not_a_duplicate"
    assert event_kinds(lead) == []


def test_taken_external_id_is_a_conflict_and_creates_nothing(api, vendor_a):
    LeadFactory(tenant=vendor_a, external_id="CRM-1")
    before = counts()

    body = assert_problem(api.post(LEADS, {"external_id": "CRM-1", "contact_email": "x@y.de"}),
                          409)

    assert body["code"] == "external_id_taken"
    assert counts() == before


def test_external_id_of_another_vendor_is_free(api, vendor_b):
    LeadFactory(tenant=vendor_b, external_id="CRM-1")

    assert api.post(LEADS, {"external_id": "CRM-1", "contact_email": "x@y.de"}).status_code == 201


# --- bulk -----------------------------------------------------------------------------------

def test_bulk_reports_every_item_and_bad_items_do_not_block_good_ones(api, vendor_a):
    LeadFactory(tenant=vendor_a, external_id="IN-DB")
    before_leads, before_events = counts()

    response = api.post(BULK, {"leads": [
        {"external_id": "B-1", "contact_email": "one@alpha.example"},
        {"external_id": "B-2", "contact_email": "not an email"},
        {"external_id": "IN-DB", "contact_email": "two@beta.example"},
        {"external_id": "B-1", "contact_email": "three@gamma.example"},
        {"contact_phone": "+43 1 234", "bogus": True},
        {"contact_phone": "+43 1 999"},
    ]})

    assert response.status_code == 207, response.content
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4, 5]
    assert [r["status"] for r in results] == [201, 400, 409, 409, 400, 201]
    assert (body["created"], body["failed"]) == (2, 4)
    assert results[0]["external_id"] == "B-1"
    assert Lead.objects.get(public_id=results[0]["id"]).external_id == "B-1"
    assert Lead.objects.get(public_id=results[5]["id"]).contact_phone == "+43 1 999"
    assert [e["pointer"] for e in results[1]["errors"]] == ["/contact_email"]
    assert [e["pointer"] for e in results[4]["errors"]] == ["/bogus"]
    for conflict in (results[2], results[3]):
        assert "id" not in conflict
        assert conflict["errors"][0]["code"] == "external_id_taken"
        assert conflict["errors"][0]["pointer"] == "/external_id"
    # Exactly the two good leads and one `created` event each.
    assert counts() == (before_leads + 2, before_events + 2)
    assert Lead.objects.filter(external_id="B-1").count() == 1


def test_bulk_flags_duplicates_within_the_batch_and_against_earlier_leads(api, vendor_a):
    earlier = api.post(LEADS, {"contact_email": "anna@gmail.com"}).json()

    results = api.post(BULK, {"leads": [
        {"contact_email": "max@berger-bau.de"},
        {"contact_email": "eva@berger-bau.de"},
        {"contact_email": "ANNA@gmail.com"},
        {"contact_email": "tom@gmail.com"},
        {"contact_email": "Tom@Gmail.com"},
    ]}).json()["results"]

    leads = [Lead.objects.get(public_id=r["id"]) for r in results]
    assert leads[0].duplicate_of is None
    assert leads[1].duplicate_of == leads[0]  # same account, same batch
    assert str(leads[2].duplicate_of.public_id) == earlier["id"]
    assert leads[3].duplicate_of is None
    assert leads[4].duplicate_of == leads[3]  # same email, case folded, same batch
    assert leads[0].account == leads[1].account and leads[0].account.domain == "berger-bau.de"


def test_bulk_of_more_than_1000_leads_is_refused_whole(api):
    before = counts()

    response = api.post(BULK, {"leads": [{"contact_phone": f"+49 {n}"} for n in range(1001)]})

    assert_problem(response, 400, "/leads")
    assert counts() == before


def test_bulk_of_exactly_1000_leads_is_accepted(api):
    response = api.post(BULK, {"leads": [{"contact_phone": f"+49 {n}"} for n in range(1000)]})

    assert response.status_code == 207
    assert response.json()["created"] == 1000
    assert counts() == (1000, 1000)


@pytest.mark.parametrize("leads", [[], "many", None])
def test_bulk_needs_a_list_of_leads(api, leads):
    assert_problem(api.post(BULK, {"leads": leads}), 400, "/leads")
    assert counts() == (0, 0)


# --- read -----------------------------------------------------------------------------------

def test_retrieve_shows_activities_and_events(api):
    lead = Lead.objects.get(public_id=api.post(LEADS, {"contact_email": "a@acme.example"})
                            .json()["id"])
    api.post(_url(lead, "activities"), {"kind": "call", "body": "Reached the IT lead."})

    response = api.get(_url(lead))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(lead.public_id) and body["account"]["domain"] == "acme.example"
    assert [(a["kind"], a["body"], a["author"]) for a in body["activities"]] == [
        ("call", "Reached the IT lead.", "api key: test read_write")]
    assert [e["kind"] for e in body["events"]] == ["created", "unassigned", "activity_logged"]
    assert body["events"][0]["to_status"] == "received"


def test_retrieve_by_external_id(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, external_id="00Q 5e:ä+")

    response = api.get(f"{LEADS}by-external-id/00Q%205e:%C3%A4+/")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(lead.public_id)
    assert_problem(api.get(f"{LEADS}by-external-id/nope/"), 404)


def test_update_by_external_id(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, external_id="CRM-9")

    response = api.patch(f"{LEADS}by-external-id/CRM-9/", {"industry": "retail"})

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.industry == "retail"
    assert event_kinds(lead) == ["updated"]


def test_unknown_lead_is_404(api):
    assert_problem(api.get(f"{LEADS}00000000-0000-0000-0000-000000000000/"), 404)


# --- list -----------------------------------------------------------------------------------

def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_filters(api, vendor_a, vendor_b):
    partner = PartnerFactory(tenant=vendor_a, external_id="P-77")
    other_partner = PartnerFactory(tenant=vendor_a)
    de = LeadFactory(tenant=vendor_a, country="DE", source_kind="platform", external_id="E-1")
    at = LeadFactory(tenant=vendor_a, country="AT", source_kind="partner",
                     status=LeadStatus.ACCEPTED, partner=partner)
    ch = LeadFactory(tenant=vendor_a, country="CH", source_kind="marketplace",
                     status=LeadStatus.WON, partner=other_partner)
    LeadFactory(tenant=vendor_b, country="DE", external_id="E-1")
    old = timezone.now() - datetime.timedelta(days=3)
    Lead.objects.filter(pk__in=[de.pk, ch.pk]).update(updated_at=old)

    def ids(*leads):
        return {str(lead.public_id) for lead in leads}

    assert _ids(api.get(LEADS)) == ids(de, at, ch)
    assert _ids(api.get(LEADS, {"status": "accepted"})) == ids(at)
    assert _ids(api.get(f"{LEADS}?status=accepted&status=won")) == ids(at, ch)
    assert _ids(api.get(LEADS, {"partner": str(partner.public_id)})) == ids(at)
    assert _ids(api.get(LEADS, {"partner_external_id": "P-77"})) == ids(at)
    assert _ids(api.get(LEADS, {"source": "marketplace"})) == ids(ch)
    assert _ids(api.get(LEADS, {"country": "DE"})) == ids(de)
    assert _ids(api.get(LEADS, {"external_id": "E-1"})) == ids(de)
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert _ids(api.get(LEADS, {"updated_since": since})) == ids(at)
    # An offset PostgreSQL would refuse (+19:37 is valid ISO 8601) is the same instant in UTC.
    far_east = (timezone.now() - datetime.timedelta(days=1)).astimezone(
        datetime.timezone(datetime.timedelta(hours=19, minutes=37)))
    assert _ids(api.get(LEADS, {"updated_since": far_east.isoformat()})) == ids(at)
    assert _ids(api.get(LEADS, {"country": "AT", "status": "received"})) == set()


@pytest.mark.parametrize("query", [
    {"status": "nonsense"}, {"partner": "not-a-uuid"}, {"source": "fax"},
    {"updated_since": "yesterday"},
])
def test_list_refuses_bad_filter_values(api, query):
    assert_problem(api.get(LEADS, query), 400, f"/{next(iter(query))}")


def test_cursor_pagination_walks_every_lead_once_newest_first(api, vendor_a):
    start = timezone.now() - datetime.timedelta(hours=1)
    leads = [LeadFactory(tenant=vendor_a, created_at=start + datetime.timedelta(minutes=n))
             for n in range(7)]
    # Same creation time: the id breaks the tie, so neither is skipped nor repeated.
    leads.append(LeadFactory(tenant=vendor_a, created_at=leads[-1].created_at))
    LeadFactory(tenant=TenantFactory())

    seen, sizes = [], []
    page = api.get(LEADS, {"page_size": 3}).json()
    while True:
        sizes.append(len(page["results"]))
        seen += [row["id"] for row in page["results"]]
        if page["next"] is None:
            break
        assert "page_size=3" in page["next"]
        page = api.get(page["next"]).json()

    assert sizes == [3, 3, 2]
    newest_first = sorted(leads, key=lambda lead: (lead.created_at, lead.pk), reverse=True)
    assert seen == [str(lead.public_id) for lead in newest_first]


# --- update ---------------------------------------------------------------------------------

def test_patch_changes_fields_and_writes_one_updated_event_with_from_and_to(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, country="DE", contact_phone="+49 1")

    response = api.patch(_url(lead), {"country": "AT", "contact_phone": "+43 2",
                                      "industry": ""})

    assert response.status_code == 200, response.content
    assert response.json()["country"] == "AT"
    lead.refresh_from_db()
    assert (lead.country, lead.contact_phone) == ("AT", "+43 2")
    event = LeadEvent.objects.get(lead=lead)
    assert event.kind == "updated"
    # Only the fields that changed, each as [from, to].
    assert event.data == {"changes": {"country": ["DE", "AT"], "contact_phone": ["+49 1", "+43 2"]}}


def test_patch_with_the_same_values_writes_no_event(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, country="DE")

    assert api.patch(_url(lead), {"country": "DE"}).status_code == 200

    assert event_kinds(lead) == []


def test_patch_to_a_taken_external_id_is_a_conflict(api, vendor_a):
    LeadFactory(tenant=vendor_a, external_id="TAKEN")
    lead = LeadFactory(tenant=vendor_a, external_id="MINE")

    body = assert_problem(api.patch(_url(lead), {"external_id": "TAKEN"}), 409)

    assert body["code"] == "external_id_taken"
    lead.refresh_from_db()
    assert lead.external_id == "MINE" and event_kinds(lead) == []


def test_patch_refuses_unknown_and_read_only_fields(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a)

    assert_problem(api.patch(_url(lead), {"status": "won", "partner": None}), 400,
                   "/status", "/partner")

    lead.refresh_from_db()
    assert lead.status == "received" and event_kinds(lead) == []


def test_patch_of_a_closed_lead_is_a_conflict(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a, status=LeadStatus.WON)

    body = assert_problem(api.patch(_url(lead), {"country": "AT"}), 409)

    assert body["code"] == "lead_closed" and event_kinds(lead) == []


def test_patch_stage_moves_an_accepted_lead_and_logs_it(api, vendor_a):
    PipelineStageFactory(tenant=vendor_a, key="qualified", name="Qualified", position=1)
    PipelineStageFactory(tenant=vendor_a, key="proposal", name="Proposal", position=2)
    lead = _accepted_lead(vendor_a)

    first = api.patch(_url(lead), {"stage": "qualified"})
    second = api.patch(_url(lead), {"stage": "proposal"})

    assert first.status_code == 200 and first.json()["stage"] == "qualified"
    assert second.json()["stage"] == "proposal"
    events = list(LeadEvent.objects.filter(lead=lead).order_by("id"))
    assert [e.kind for e in events] == ["stage_changed", "stage_changed"]
    assert events[0].data == {"from_stage": None, "to_stage": "qualified"}
    assert events[1].data == {"from_stage": "qualified", "to_stage": "proposal"}
    assert events[1].from_status == events[1].to_status == "accepted"
    assert [a.body for a in Activity.objects.filter(lead=lead).order_by("occurred_at", "id")] == [
        "– → Qualified", "Qualified → Proposal"]
    assert [a["kind"] for a in second.json()["activities"]] == ["stage_change"] * 2


def test_patch_stage_of_a_lead_not_yet_accepted_is_a_conflict(api, vendor_a):
    PipelineStageFactory(tenant=vendor_a, key="proposal")
    lead = LeadFactory(tenant=vendor_a, contact_phone="+49 1")

    # Fields and stage change together or not at all.
    response = api.patch(_url(lead), {"contact_phone": "+49 2", "stage": "proposal"})

    assert assert_problem(response, 409)["code"] == "lead_not_in_pipeline"
    lead.refresh_from_db()
    assert lead.stage is None and lead.contact_phone == "+49 1"
    assert event_kinds(lead) == []


def test_patch_to_an_unknown_or_foreign_stage_is_refused(api, vendor_a, vendor_b):
    PipelineStageFactory(tenant=vendor_b, key="theirs")
    lead = _accepted_lead(vendor_a)

    assert_problem(api.patch(_url(lead), {"stage": "theirs"}), 400, "/stage")
    assert_problem(api.patch(_url(lead), {"stage": "Not A Slug!"}), 400, "/stage")

    lead.refresh_from_db()
    assert lead.stage is None and event_kinds(lead) == []


# --- won and lost ---------------------------------------------------------------------------

def test_won_closes_an_accepted_lead_with_one_event(api, vendor_a):
    lead = _accepted_lead(vendor_a)

    response = api.post(_url(lead, "won"), {"order_value": "52000", "closed_on": "2026-11-20"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["won_value"], body["closed_on"]) == (
        "won", "52000.00", "2026-11-20")
    event = LeadEvent.objects.get(lead=lead)
    assert (event.kind, event.from_status, event.to_status) == ("won", "accepted", "won")
    assert event.data == {"order_value": "52000.00", "closed_on": "2026-11-20"}
    # Won once: a second close is a conflict and writes nothing.
    again = api.post(_url(lead, "lost"), {"reason": "x", "closed_on": "2026-11-21"})
    assert assert_problem(again, 409)["code"] == "lead_not_in_pipeline"
    assert event_kinds(lead) == ["won"]


def test_lost_closes_an_accepted_lead_with_one_event(api, vendor_a):
    lead = _accepted_lead(vendor_a)

    response = api.post(_url(lead, "lost"), {"reason": "Chose a competitor",
                                             "closed_on": "2026-11-20"})

    assert response.status_code == 200
    assert response.json()["status"] == "lost"
    assert response.json()["lost_reason"] == "Chose a competitor"
    event = LeadEvent.objects.get(lead=lead)
    assert (event.kind, event.from_status, event.to_status) == ("lost", "accepted", "lost")


@pytest.mark.parametrize("status", ["received", "held", "offered", "won", "lost"])
@pytest.mark.parametrize("action,body", [
    ("won", {"order_value": "1", "closed_on": "2026-11-20"}),
    ("lost", {"reason": "No budget", "closed_on": "2026-11-20"}),
])
def test_won_and_lost_need_an_accepted_lead(api, vendor_a, status, action, body):
    lead = LeadFactory(tenant=vendor_a, status=status)

    assert assert_problem(api.post(_url(lead, action), body), 409)["code"] == (
        "lead_not_in_pipeline")

    lead.refresh_from_db()
    assert lead.status == status and event_kinds(lead) == []


@pytest.mark.parametrize("action,body,pointers", [
    ("won", {}, ["/order_value", "/closed_on"]),
    ("won", {"order_value": "-1", "closed_on": "2026-11-20"}, ["/order_value"]),
    ("won", {"order_value": "1", "closed_on": "20.11.2026"}, ["/closed_on"]),
    ("lost", {"closed_on": "2026-11-20"}, ["/reason"]),
])
def test_won_and_lost_validate_their_body(api, vendor_a, action, body, pointers):
    lead = _accepted_lead(vendor_a)

    assert_problem(api.post(_url(lead, action), body), 400, *pointers)

    assert event_kinds(lead) == []


# --- activities -----------------------------------------------------------------------------

def test_activity_is_logged_with_one_event(api, vendor_a):
    lead = LeadFactory(tenant=vendor_a)

    response = api.post(_url(lead, "activities"), {
        "kind": "meeting", "body": "Demo on site", "occurred_at": "2026-11-19T14:00:00+01:00"})

    assert response.status_code == 201, response.content
    body = response.json()
    activity = Activity.objects.get(public_id=body["id"])
    assert (activity.lead, activity.kind, activity.body) == (lead, "meeting", "Demo on site")
    assert body["occurred_at"] == "2026-11-19T13:00:00Z"
    assert body["author"] == "api key: test read_write"
    event = LeadEvent.objects.get(lead=lead)
    assert event.kind == "activity_logged"
    assert event.data == {"activity": body["id"], "kind": "meeting"}


def test_activity_without_a_time_happened_now(api, vendor_a, time_machine):
    time_machine.move_to("2026-11-24 10:30:00+00:00", tick=False)
    lead = LeadFactory(tenant=vendor_a)

    response = api.post(_url(lead, "activities"), {"kind": "note"})

    assert response.status_code == 201, response.content
    assert response.json()["occurred_at"] == "2026-11-24T10:30:00Z"
    assert response.json()["body"] == ""
    assert event_kinds(lead) == ["activity_logged"]


@pytest.mark.parametrize("payload,pointer", [
    ({"kind": "stage_change", "body": "x"}, "/kind"),
    ({"kind": "telegram"}, "/kind"),
    ({"body": "no kind"}, "/kind"),
    ({"kind": "note", "author": "me"}, "/author"),
])
def test_activity_body_is_validated(api, vendor_a, payload, pointer):
    lead = LeadFactory(tenant=vendor_a)

    assert_problem(api.post(_url(lead, "activities"), payload), 400, pointer)

    assert Activity.objects.count() == 0 and event_kinds(lead) == []


# --- custom fields --------------------------------------------------------------------------

@pytest.fixture
def custom_fields(vendor_a):
    return {
        "erp_system": CustomFieldFactory(tenant=vendor_a, key="erp_system", kind="text"),
        "employees": CustomFieldFactory(tenant=vendor_a, key="employees", kind="number"),
        "tier": CustomFieldFactory(tenant=vendor_a, key="tier", kind="choice",
                                   choices=["smb", "mid", "enterprise"]),
        "go_live": CustomFieldFactory(tenant=vendor_a, key="go_live", kind="date"),
    }


def test_custom_field_values_are_typed_and_stored(api, custom_fields):
    response = api.post(LEADS, {"contact_phone": "+49 1", "custom_fields": {
        "erp_system": "SAP R/3", "employees": 120.50, "tier": "mid", "go_live": "2027-01-15"}})

    assert response.status_code == 201, response.content
    expected = {"erp_system": "SAP R/3", "employees": "120.5", "tier": "mid",
                "go_live": "2027-01-15"}
    assert response.json()["custom_fields"] == expected
    assert Lead.objects.get().custom_fields == expected


@pytest.mark.parametrize("key,value", [
    ("erp_system", 42), ("erp_system", "x" * 1001), ("erp_system", ["SAP"]),
    ("employees", "many"), ("employees", True), ("employees", "NaN"), ("employees", 1e15),
    ("employees", {"n": 1}),
    ("tier", "huge"), ("tier", ["mid"]),
    ("go_live", "2027-13-01"), ("go_live", "15.01.2027"), ("go_live", 20270115),
    ("no_such_field", "x"),
])
def test_invalid_custom_field_values_are_refused_with_a_pointer(api, custom_fields, key, value):
    response = api.post(LEADS, {"contact_phone": "+49 1", "custom_fields": {key: value}})

    assert_problem(response, 400, f"/custom_fields/{key}")
    assert counts() == (0, 0)


def test_required_custom_field_is_needed_on_create_not_on_patch(api, vendor_a):
    CustomFieldFactory(tenant=vendor_a, key="employees", kind="number", required=True)

    assert_problem(api.post(LEADS, {"contact_phone": "+49 1"}), 400, "/custom_fields/employees")
    assert_problem(api.post(LEADS, {"contact_phone": "+49 1",
                                    "custom_fields": {"employees": None}}),
                   400, "/custom_fields/employees")
    created = api.post(LEADS, {"contact_phone": "+49 1", "custom_fields": {"employees": 5}})
    assert created.status_code == 201
    lead = Lead.objects.get(public_id=created.json()["id"])

    assert api.patch(_url(lead), {"industry": "retail"}).status_code == 200
    assert_problem(api.patch(_url(lead), {"custom_fields": {"employees": ""}}), 400,
                   "/custom_fields/employees")
    lead.refresh_from_db()
    assert lead.custom_fields == {"employees": "5"}


def test_patch_merges_custom_fields(api, vendor_a, custom_fields):
    lead = LeadFactory(tenant=vendor_a, custom_fields={"tier": "smb", "erp_system": "none"})

    response = api.patch(_url(lead), {"custom_fields": {"tier": "enterprise"}})

    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.custom_fields == {"tier": "enterprise", "erp_system": "none"}
    event = LeadEvent.objects.get(lead=lead)
    assert event.data["changes"]["custom_fields"] == [
        {"tier": "smb", "erp_system": "none"}, {"tier": "enterprise", "erp_system": "none"}]


def test_custom_fields_listing_shows_the_vendors_definitions_in_order(api, vendor_a, vendor_b):
    CustomFieldFactory(tenant=vendor_a, key="tier", label="Tier", kind="choice",
                       choices=["smb", "mid"], required=True, position=2)
    CustomFieldFactory(tenant=vendor_a, key="employees", label="Employees", kind="number",
                       position=1)
    CustomFieldFactory(tenant=vendor_b, key="secret_field")

    response = api.get("/api/v1/custom-fields/")

    assert response.status_code == 200
    assert response.json() == [
        {"key": "employees", "label": "Employees", "kind": "number", "choices": [],
         "required": False},
        {"key": "tier", "label": "Tier", "kind": "choice", "choices": ["smb", "mid"],
         "required": True},
    ]


def test_pipeline_stages_listing_is_in_pipeline_order(api, vendor_a, vendor_b):
    PipelineStageFactory(tenant=vendor_a, key="proposal", name="Proposal", position=2)
    PipelineStageFactory(tenant=vendor_a, key="qualified", name="Qualified", position=1)
    PipelineStageFactory(tenant=vendor_b, key="theirs", position=0)

    response = api.get("/api/v1/pipeline-stages/")

    assert response.status_code == 200
    assert response.json() == [{"key": "qualified", "name": "Qualified", "position": 1},
                               {"key": "proposal", "name": "Proposal", "position": 2}]
