"""Deletions reach every vendor's own privacy API (Klaviyo, Mailchimp, Mixpanel, Amplitude) and
Google Customer Match's remove, through their emulators, with retries and an audit row each."""

from __future__ import annotations

import httpx
import pytest
from cryptography.fernet import Fernet

from destinations.deletion import send_deletion
from destinations.delivery import VirtualTime
from destinations.emulators import amplitude as amplitude_emulator
from destinations.emulators import google as google_emulator
from destinations.emulators import klaviyo as klaviyo_emulator
from destinations.emulators import mailchimp as mailchimp_emulator
from destinations.emulators import mixpanel as mixpanel_emulator
from destinations.emulators.kit import DestinationControl
from destinations.mailchimp import subscriber_hash
from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from pipelines.privacy.regulations import retry, submit
from tests.privacy_world import ANN, BOB, make_world, populate

KEY = Fernet.generate_key().decode()
ANN_EMAIL, BOB_EMAIL = "ann.lee@example.org", BOB["email"]


class Vendors:
    """The four vendors with deletion APIs and Google, running beside the privacy world's Meta and TikTok."""

    def __init__(self, world):
        self.klaviyo = klaviyo_emulator.KlaviyoState()
        self.mailchimp = mailchimp_emulator.MailchimpState()
        self.mixpanel = mixpanel_emulator.MixpanelState()
        self.amplitude = amplitude_emulator.AmplitudeState()
        self.google = DestinationControl()
        start = world.servers.enter_context
        self.urls = {
            "klaviyo": start(LoopbackServer(klaviyo_emulator.create_app(self.klaviyo))).url,
            "mailchimp": start(LoopbackServer(mailchimp_emulator.create_app(self.mailchimp))).url + "/3.0",
            "mixpanel": start(LoopbackServer(mixpanel_emulator.create_app(self.mixpanel))).url,
            "amplitude": start(LoopbackServer(amplitude_emulator.create_app(self.amplitude))).url,
            "google": start(LoopbackServer(google_emulator.create_app(control=self.google))).url,
        }

    def destinations(self, mixpanel_gdpr: bool = True, amplitude_secret: bool = True) -> list[dict]:
        mixpanel = {"project_token": mixpanel_emulator.PROJECT_TOKEN}
        if mixpanel_gdpr:
            mixpanel["gdpr_oauth_token"] = mixpanel_emulator.GDPR_OAUTH_TOKEN
        amplitude = {"api_key": amplitude_emulator.API_KEY}
        if amplitude_secret:
            amplitude["secret_key"] = amplitude_emulator.SECRET_KEY
        return [
            {"name": "klaviyo", "type": "klaviyo_list", "base_url": self.urls["klaviyo"],
             "credentials": {"api_key": klaviyo_emulator.API_KEY}, "settings": {"list_id": klaviyo_emulator.LIST_ID}},
            {"name": "mailchimp", "type": "mailchimp_audience", "base_url": self.urls["mailchimp"],
             "credentials": {"api_key": mailchimp_emulator.API_KEY}, "settings": {"list_id": mailchimp_emulator.LIST_ID}},
            {"name": "mixpanel", "type": "mixpanel_profiles", "base_url": self.urls["mixpanel"], "credentials": mixpanel},
            {"name": "amplitude", "type": "amplitude_identify", "base_url": self.urls["amplitude"],
             "credentials": amplitude},
            {"name": "gads", "type": "google_customer_match", "base_url": self.urls["google"],
             "credentials": {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "refresh-token"},
             "settings": {"operating_account_id": "1234567890", "product_destination_id": "555",
                          "token_url": f"{self.urls['google']}/token"}},
        ]


SYNCED = ("klaviyo", "mailchimp", "mixpanel", "amplitude", "gads")


def vendor_world(warehouse, tmp_path, **credentials):
    world = make_world(warehouse, tmp_path, encryption_key=KEY)
    vendors = Vendors(world)
    world.raw["destinations"] += vendors.destinations(**credentials)
    world.raw["syncs"] += [{"name": f"vip_{name}", "source": {"audience": "vip"}, "destination": name, "mode": "mirror"}
                           for name in SYNCED]
    world.config = parse_config(world.raw)
    return world, vendors


def sync_all(world) -> None:
    for name in SYNCED:
        assert world.sync(f"vip_{name}").status == "succeeded", name


def steps(warehouse, request_id: str) -> dict[str, dict]:
    return {r["target"]: r for r in warehouse.query(
        "SELECT * FROM cdp.privacy_request_steps WHERE request_id = %s AND step = 'destination'", [request_id])}


def test_deletion_calls_each_vendors_privacy_api_and_the_person_is_gone_there(duckdb_warehouse, tmp_path):
    world, vendors = vendor_world(duckdb_warehouse, tmp_path)
    with world.servers:
        ids = populate(world)
        sync_all(world)
        assert {p.get("email") for p in vendors.klaviyo.profiles.values()} == {ANN_EMAIL, BOB_EMAIL}
        assert set(vendors.mixpanel.profiles) == set(vendors.amplitude.user_properties) == {ids["ann"], ids["bob"]}
        google_before = set(vendors.google.members["555"])
        vendors.klaviyo.control.throttle(2, retry_after=7)      # the privacy API throttles: retried, not failed

        report = submit(world.config, "suppress_with_delete", [ANN["user_id"]], timing=VirtualTime())

    assert report.status == "succeeded", report.steps
    # Klaviyo: one data-privacy job per identifier, in the SDK's own request shape
    from openapi_client.models.data_privacy_create_deletion_job_query import DataPrivacyCreateDeletionJobQuery

    assert vendors.klaviyo.deletion_jobs == [("email", ANN_EMAIL), ("phone_number", "+16505550142")]
    jobs = [b for b in vendors.klaviyo.control.bodies
            if isinstance(b.get("data"), dict) and b["data"].get("type") == "data-privacy-deletion-job"]
    assert [DataPrivacyCreateDeletionJobQuery.from_dict(b).data.attributes.profile.data.attributes.email
            for b in jobs] == [ANN_EMAIL, None]
    assert {p.get("email") for p in vendors.klaviyo.profiles.values()} == {BOB_EMAIL}
    assert 429 in {r.status for r in vendors.klaviyo.control.requests}
    # Mailchimp: permanently deleted, and Mailchimp now refuses to import her again
    assert set(vendors.mailchimp.members[mailchimp_emulator.LIST_ID]) == {subscriber_hash(BOB_EMAIL)}
    assert (mailchimp_emulator.LIST_ID, subscriber_hash(ANN_EMAIL)) in vendors.mailchimp.permanently_deleted
    # Mixpanel and Amplitude: her profile id (what the syncs sent) and her user id, in one request each
    assert [t["distinct_ids"] for t in vendors.mixpanel.deletion_tasks] == [sorted([ids["ann"], ANN["user_id"]])]
    assert set(vendors.mixpanel.profiles) == {ids["bob"]}
    assert [j["user_ids"] for j in vendors.amplitude.deletion_jobs] == [sorted([ids["ann"], ANN["user_id"]])]
    assert set(vendors.amplitude.user_properties) == {ids["bob"]}
    # Google Customer Match: her row removed through audienceMembers:remove
    assert "/v1/audienceMembers:remove" in vendors.google.paths()
    assert len(vendors.google.members["555"]) == len(google_before) - 1
    audit = steps(duckdb_warehouse, report.request_id)
    assert {"klaviyo", "mailchimp", "mixpanel", "amplitude", "gads/vip_gads", "klaviyo/vip_klaviyo"} <= set(audit)
    assert all(row["status"] == "succeeded" for row in audit.values())
    assert audit["klaviyo"]["attempts"] >= 2


def test_missing_privacy_credential_fails_the_step_by_name_and_retry_finishes_once_it_is_set(duckdb_warehouse,
                                                                                              tmp_path):
    world, vendors = vendor_world(duckdb_warehouse, tmp_path, mixpanel_gdpr=False, amplitude_secret=False)
    with world.servers:
        ids = populate(world)
        sync_all(world)
        report = submit(world.config, "suppress_with_delete", [ANN["email"]], timing=VirtualTime())
        assert report.status == "pending"
        audit = steps(duckdb_warehouse, report.request_id)
        assert audit["mixpanel"]["status"] == "failed" and "credentials.gdpr_oauth_token is not set" in \
            audit["mixpanel"]["detail"]
        assert audit["amplitude"]["status"] == "failed" and "credentials.secret_key is not set" in \
            audit["amplitude"]["detail"]
        assert "${MIXPANEL_GDPR_OAUTH_TOKEN}" in audit["mixpanel"]["detail"]
        assert "${AMPLITUDE_SECRET_KEY}" in audit["amplitude"]["detail"]
        assert mixpanel_emulator.PROJECT_TOKEN not in audit["mixpanel"]["detail"]
        assert audit["klaviyo"]["status"] == "succeeded"
        assert vendors.mixpanel.deletion_tasks == [] and vendors.amplitude.deletion_jobs == []

        world.raw["destinations"] = [d for d in world.raw["destinations"] if d["name"] not in ("mixpanel", "amplitude")]
        world.raw["destinations"] += [d for d in vendors.destinations() if d["name"] in ("mixpanel", "amplitude")]
        again = retry(parse_config(world.raw), report.request_id, timing=VirtualTime())

    assert again.status == "succeeded", again.steps
    assert [t["distinct_ids"] for t in vendors.mixpanel.deletion_tasks] == [sorted([ids["ann"], ANN["user_id"]])]
    assert [j["user_ids"] for j in vendors.amplitude.deletion_jobs] == [sorted([ids["ann"], ANN["user_id"]])]
    assert len(vendors.klaviyo.deletion_jobs) == 2, "retry re-sends only the failed steps"


def _entry(kind: str, url: str, credentials: dict, settings: dict):
    config = parse_config({"destinations": [{"name": "d", "type": kind, "base_url": url, "credentials": credentials,
                                             "settings": settings}]})
    return config.destinations[0]


def test_mailchimp_person_never_subscribed_counts_as_deleted():
    state = mailchimp_emulator.MailchimpState()
    with LoopbackServer(mailchimp_emulator.create_app(state)) as server:
        entry = _entry("mailchimp_audience", server.url + "/3.0", {"api_key": mailchimp_emulator.API_KEY},
                       {"list_id": mailchimp_emulator.LIST_ID})
        target = {"destination": "d", "sync": None, "kind": "delete", "people": {"emails": ["nobody@example.org"]}}
        outcome = send_deletion(entry, [], target, timing=VirtualTime())
        wrong_list = _entry("mailchimp_audience", server.url + "/3.0", {"api_key": mailchimp_emulator.API_KEY},
                            {"list_id": "nope"})
        refused = send_deletion(wrong_list, [], target, timing=VirtualTime())
    assert outcome.status == "succeeded"
    assert "delete-permanent" in state.control.paths()[1], "after the list check"
    assert refused.status == "failed", "an unknown list is a 404 too, but not one that means 'already gone'"


@pytest.mark.parametrize("profile, status", [
    ({"type": "profile", "attributes": {"email": "a@example.org", "phone_number": "+16505550142"}}, 400),
    ({"type": "profile", "attributes": {}}, 400),
    ({"type": "person", "attributes": {"email": "a@example.org"}}, 400),
    ({"type": "profile", "attributes": {"phone_number": "650-555-0142"}}, 400),
    ({"type": "profile", "attributes": {"email": "a@example.org"}}, 202),
])
def test_klaviyo_emulator_takes_exactly_one_valid_identifier_a_deletion_job(profile, status):
    with LoopbackServer(klaviyo_emulator.create_app()) as server:
        answer = httpx.post(f"{server.url}/api/data-privacy-deletion-jobs",
                            headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.API_KEY}",
                                     "revision": "2026-10-15"},
                            json={"data": {"type": "data-privacy-deletion-job",
                                           "attributes": {"profile": {"data": profile}}}})
        unauthenticated = httpx.post(f"{server.url}/api/data-privacy-deletion-jobs", headers={"revision": "2026-10-15"},
                                     json={})
    assert answer.status_code == status
    assert unauthenticated.status_code == 401


def test_mixpanel_and_amplitude_privacy_emulators_refuse_the_ingestion_credentials():
    with LoopbackServer(mixpanel_emulator.create_app()) as mixpanel, \
            LoopbackServer(amplitude_emulator.create_app()) as amplitude:
        project_token_as_bearer = httpx.post(f"{mixpanel.url}/api/app/data-deletions/v3.0/",
                                             params={"token": mixpanel_emulator.PROJECT_TOKEN},
                                             headers={"Authorization": f"Bearer {mixpanel_emulator.PROJECT_TOKEN}"},
                                             json={"distinct_ids": ["x"]})
        too_many = httpx.post(f"{mixpanel.url}/api/app/data-deletions/v3.0/", params={"token": mixpanel_emulator.PROJECT_TOKEN},
                              headers={"Authorization": f"Bearer {mixpanel_emulator.GDPR_OAUTH_TOKEN}"},
                              json={"distinct_ids": [str(i) for i in range(2001)]})
        key_only = httpx.post(f"{amplitude.url}/api/2/deletions/users", auth=(amplitude_emulator.API_KEY, ""),
                              json={"user_ids": ["u-1"]})
        unknown_user = httpx.post(f"{amplitude.url}/api/2/deletions/users",
                                  auth=(amplitude_emulator.API_KEY, amplitude_emulator.SECRET_KEY),
                                  json={"user_ids": ["never-seen"]})
    assert (project_token_as_bearer.status_code, too_many.status_code) == (401, 400)
    assert "distinct_ids" in too_many.json()["error"]
    assert (key_only.status_code, unknown_user.status_code) == (401, 400)
