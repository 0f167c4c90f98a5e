"""Property: after every mirror-mode run, the vendor holds exactly the consented audience.

Random histories of joins, leaves, consent changes and identifier edits, each followed by
a sync to the Meta Custom Audiences emulator; whatever the history, the emulator's
audience equals the warehouse's consented members, and a repeat run plans nothing.
"""

from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destinations.delivery import VirtualTime
from destinations.emulators.kit import DestinationControl
from destinations.emulators.meta import create_app
from destinations.engine import run_sync
from destinations.normalize import hashed
from headwater.loopback import LoopbackServer
from headwater.warehouse import Warehouse
from tests.sync_fixtures import create_cdp, execute, profile, sync_config

PEOPLE = 8
step = st.tuples(st.sampled_from(["join", "leave", "withdraw", "grant", "new_email"]), st.integers(0, PEOPLE - 1))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(st.lists(step, max_size=4), min_size=1, max_size=3))
def test_mirror_sync_keeps_the_vendor_equal_to_the_consented_audience(history):
    control = DestinationControl()
    with tempfile.TemporaryDirectory() as folder, LoopbackServer(create_app(access_token="t0ken", control=control)) as server:
        warehouse = Warehouse(f"duckdb:///{folder}/w.duckdb")
        create_cdp(warehouse, [profile(i) for i in range(PEOPLE)], [("vip", f"p{i:05d}") for i in range(0, PEOPLE, 2)])
        config = sync_config(
            warehouse, {"name": "meta", "type": "meta_audience", "base_url": server.url,
                        "credentials": {"access_token": "t0ken"}, "settings": {"audience_id": "1"}},
            {"name": "vip", "source": {"audience": "vip"}, "destination": "meta", "mode": "mirror"})
        for changes in [[]] + history:
            for action, person in changes:
                apply(warehouse, action, f"p{person:05d}")
            assert run_sync(config, "vip", timing=VirtualTime()).rows_failed == 0
            expected = {hashed("meta", "email", row["email"]) for row in warehouse.query(
                "SELECT p.email FROM cdp.audience_members m JOIN cdp.profiles p USING (profile_id) "
                "WHERE m.audience = 'vip' AND p.consent_advertising")}
            # a changed email is a new identity at Meta: the old hash must have been removed too
            assert control.members.get("1", set()) == expected
            assert run_sync(config, "vip", timing=VirtualTime()).rows_planned == 0


def apply(warehouse: Warehouse, action: str, profile_id: str) -> None:
    if action == "join":
        execute(warehouse, "INSERT INTO cdp.audience_members SELECT 'vip', %s, NULL WHERE NOT EXISTS "
                "(SELECT 1 FROM cdp.audience_members WHERE profile_id = %s)", [profile_id, profile_id])
    elif action == "leave":
        execute(warehouse, "DELETE FROM cdp.audience_members WHERE profile_id = %s", [profile_id])
    elif action in ("withdraw", "grant"):
        execute(warehouse, "UPDATE cdp.profiles SET consent_advertising = %s WHERE profile_id = %s",
                [action == "grant", profile_id])
    else:
        execute(warehouse, "UPDATE cdp.profiles SET email = 'new.' || email WHERE profile_id = %s", [profile_id])
