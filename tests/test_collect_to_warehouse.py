"""End to end: official SDKs -> `headwater serve` -> spool -> `load_spool` -> warehouse rows."""

from __future__ import annotations

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from tests.collect_helpers import WRITE_KEYS, collect_config_dict


def test_sdk_events_land_in_segment_tables_on_each_warehouse(tmp_path, warehouse):
    from rudderstack.analytics.client import Client as RudderClient
    from segment.analytics.client import Client as SegmentClient

    config = parse_config(collect_config_dict(tmp_path / "spool", warehouse.url))
    errors: list = []
    with LoopbackServer(create_app(config)) as server:
        web = SegmentClient(WRITE_KEYS["website"], host=server.url, on_error=lambda e, b: errors.append(e))
        web.identify("user-1", {"email": "ada@example.com", "plan": "free"}, message_id="w-identify-1")
        web.identify("user-1", {"plan": "pro"}, message_id="w-identify-2",
                     timestamp=__import__("datetime").datetime(2030, 1, 1))
        web.page("user-1", "Shop", "Ticket", {"url": "https://tickets.example/t/1"}, message_id="w-page")
        web.track("user-1", "Order Completed", {"order_id": "o-1", "revenue": 99.5, "currency": "EUR"},
                  message_id="w-order")
        web.flush()
        web.join()
        app = RudderClient(WRITE_KEYS["app"], host=server.url, gzip=True, on_error=lambda e, b: errors.append(e))
        app.screen("user-1", "Checkout", "Review", message_id="a-screen")
        app.alias("anon-device-9", "user-1", message_id="a-alias")
        app.track("user-1", "Order Completed", {"order_id": "o-1", "revenue": 99.5}, message_id="w-order")
        app.flush()
        app.join()
    assert errors == []

    report = load_spool(config)
    assert report.loaded == 7

    def rows(sql):
        return warehouse.query(sql)

    [order] = rows("SELECT id, order_id, revenue, currency, user_id FROM website.order_completed")
    assert order == {"id": "w-order", "order_id": "o-1", "revenue": 99.5, "currency": "EUR", "user_id": "user-1"}
    # Segment's layout: `event` is the event's table name, `event_text` the name as sent
    assert rows("SELECT event, event_text FROM website.tracks") == [
        {"event": "order_completed", "event_text": "Order Completed"}]
    assert rows("SELECT context_library_name FROM website.pages")[0]["context_library_name"] == "analytics-python"
    [user] = rows("SELECT id, email, plan FROM website.users")
    assert user == {"id": "user-1", "email": "ada@example.com", "plan": "pro"}
    # the same messageId in another source's schema is that source's own row
    assert rows("SELECT count(*) AS n FROM app.order_completed")[0]["n"] == 1
    assert rows("SELECT previous_id FROM app.aliases")[0]["previous_id"] == "anon-device-9"
    assert rows("SELECT name FROM app.screens")[0]["name"] == "Review"

    assert load_spool(config).loaded == 0, "a second load finds nothing new"
