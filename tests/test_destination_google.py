"""Google Data Manager: OAuth2, Customer Match ingest/remove, conversions, row-level errors.

Every request body the destination sends is parsed with google-ads-datamanager's own
request messages (proto-plus `from_json`, unknown fields rejected), so a field Google
would not recognise fails here.
"""

from __future__ import annotations

import json

import pytest
from google.ads import datamanager_v1

from destinations.delivery import VirtualTime
from destinations.emulators.google import create_app
from destinations.emulators.kit import DestinationControl
from destinations.engine import run_sync
from destinations.normalize import hashed
from headwater.loopback import LoopbackServer
from tests.sync_fixtures import conversion, create_cdp, execute, profile, sync_config

MESSAGES = {"/v1/audienceMembers:ingest": datamanager_v1.IngestAudienceMembersRequest,
            "/v1/audienceMembers:remove": datamanager_v1.RemoveAudienceMembersRequest,
            "/v1/events:ingest": datamanager_v1.IngestEventsRequest}


@pytest.fixture
def google():
    control = DestinationControl()
    with LoopbackServer(create_app(control=control)) as server:
        server.control = control
        yield server


def destination(server, kind="google_customer_match", credentials=None, **settings):
    return {"name": "gads", "type": kind, "base_url": server.url,
            "credentials": credentials or {"client_id": "client-id", "client_secret": "client-secret",
                                           "refresh_token": "refresh-token"},
            "settings": {"operating_account_id": "1234567890", "product_destination_id": "555",
                         "token_url": f"{server.url}/token", **settings}}


def parsed_bodies(control):
    for body in control.bodies:
        body = dict(body)
        path = body.pop("path")
        yield path, MESSAGES[path].from_json(json.dumps(body))  # raises on any unknown field


def test_customer_match_ingest_and_remove_are_valid_data_manager_requests(duckdb_warehouse, google):
    create_cdp(duckdb_warehouse, [profile(i, email=f"Jane.Doe{i}+vip@gmail.com") for i in range(6)],
               [("vip", f"p{i:05d}") for i in range(6)])
    config = sync_config(duckdb_warehouse, destination(google),
                         {"name": "vip_google", "source": {"audience": "vip"}, "destination": "gads", "mode": "mirror"})
    assert run_sync(config, "vip_google", timing=VirtualTime()).rows_succeeded == 6
    execute(duckdb_warehouse, "DELETE FROM cdp.audience_members WHERE profile_id = 'p00002'")
    assert run_sync(config, "vip_google", timing=VirtualTime()).removes == 1

    requests = list(parsed_bodies(google.control))
    assert [path for path, _ in requests] == ["/v1/audienceMembers:ingest", "/v1/audienceMembers:remove"]
    ingest = requests[0][1]
    assert ingest.encoding == datamanager_v1.Encoding.HEX
    assert ingest.destinations[0].operating_account.account_id == "1234567890"
    first = ingest.audience_members[0]
    assert first.user_data.user_identifiers[0].email_address == hashed("google", "email", "janedoe0@gmail.com")
    assert first.consent.ad_user_data == datamanager_v1.ConsentStatus.CONSENT_GRANTED
    assert ingest.terms_of_service.customer_match_terms_of_service_status.name == "ACCEPTED"
    assert google.control.members["555"] == {hashed("google", "email", f"janedoe{i}@gmail.com") for i in (0, 1, 3, 4, 5)}


def test_conversions_carry_click_ids_and_transaction_ids_and_dedupe_on_retry(duckdb_warehouse, google):
    create_cdp(duckdb_warehouse, [profile(i) for i in range(4)], [], [conversion(i) for i in range(4)])
    config = sync_config(duckdb_warehouse, destination(google, "google_conversions"),
                         {"name": "purchases_google", "source": {"model": "cdp.conversions"}, "destination": "gads"})
    google.control.fail_request(1, 503)
    report = run_sync(config, "purchases_google", timing=VirtualTime())
    assert report.rows_succeeded == 4 and report.retries == 1
    (_, request), = list(parsed_bodies(google.control))
    event = request.events[0]
    assert event.ad_identifiers.gclid == "gclid-0" and event.transaction_id == "o00000"
    assert event.currency == "USD" and event.conversion_value == 10.0
    assert set(google.control.events) == {f"o{i:05d}" for i in range(4)}


def test_field_violations_fail_only_the_named_rows_and_the_rest_is_resent(duckdb_warehouse, google):
    create_cdp(duckdb_warehouse, [profile(i) for i in range(5)], [("vip", f"p{i:05d}") for i in range(5)])
    config = sync_config(duckdb_warehouse, destination(google),
                         {"name": "vip_google", "source": {"audience": "vip"}, "destination": "gads"})
    google.control.reject_value(hashed("google", "email", "person.3@example.com"))
    report = run_sync(config, "vip_google", timing=VirtualTime())
    assert (report.rows_succeeded, report.rows_failed) == (4, 1)
    errors = duckdb_warehouse.query("SELECT row_key, error_code, error_message FROM cdp.sync_errors")
    assert errors[0]["row_key"] == "p00003" and errors[0]["error_code"] == "INVALID_HEX_ENCODING"
    assert "audience_members[3]" in errors[0]["error_message"]
    assert len(google.control.requests) == 2  # the rejected request, then the other four alone


def test_revoked_refresh_token_fails_the_run_with_a_plain_reason_and_no_secret(duckdb_warehouse, google):
    create_cdp(duckdb_warehouse, [profile(1)], [("vip", "p00001")])
    bad = {"client_id": "client-id", "client_secret": "client-secret", "refresh_token": "revoked-token-123"}
    config = sync_config(duckdb_warehouse, destination(google, credentials=bad),
                         {"name": "vip_google", "source": {"audience": "vip"}, "destination": "gads"})
    report = run_sync(config, "vip_google", timing=VirtualTime())
    assert report.status == "failed" and "invalid_grant" in report.message
    assert "revoked-token-123" not in report.message and "client-secret" not in report.message


def test_service_account_jwt_grant_is_signed_and_accepted(duckdb_warehouse):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    control = DestinationControl()
    with LoopbackServer(create_app(service_account_public_key=public, control=control)) as server:
        create_cdp(duckdb_warehouse, [profile(1)], [("vip", "p00001")])
        account = json.dumps({"client_email": "sync@project.iam.gserviceaccount.com", "private_key": private})
        config = sync_config(duckdb_warehouse, destination(server, credentials={"service_account_json": account}),
                             {"name": "vip_google", "source": {"audience": "vip"}, "destination": "gads"})
        assert run_sync(config, "vip_google", timing=VirtualTime()).rows_succeeded == 1
