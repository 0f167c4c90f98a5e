"""cdp.events: every event of every source in one table, with the person it belongs to.

Why generated: each events source has only the Segment tables its apps have called, and a
Mailchimp source only once it was pulled, so the UNION is written over what exists. Event
properties stay in the per-event tables (`event_table`, joined on `event_id`): one narrow
table stays fast to scan, and the typed property columns stay where analysts expect them.
"""

from __future__ import annotations

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.conversions.raw import Columns
from models.profiles.observations import union

EVENT_COLUMNS = {"event_id": "VARCHAR", "profile_id": "VARCHAR", "source": "VARCHAR", "event_type": "VARCHAR",
                 "event": "VARCHAR", "event_table": "VARCHAR", "occurred_at": "TIMESTAMPTZ",
                 "received_at": "TIMESTAMPTZ", "anonymous_id": "VARCHAR", "user_id": "VARCHAR"}

# Segment table -> (event_type, event name for calls that are not tracks)
SEGMENT_CALLS = {"tracks": ("track", None), "pages": ("page", "Page Viewed"), "screens": ("screen", "Screen Viewed"),
                 "identifies": ("identify", "Identify"), "groups": ("group", "Group"), "aliases": ("alias", "Alias")}
# Mailchimp email activity actions -> Segment's Email spec event names
EMAIL_EVENTS = {"open": "Email Opened", "click": "Email Link Clicked", "bounce": "Email Bounced"}


def _segment_events(source: str, table: str, cols: Columns) -> str:
    event_type, name = SEGMENT_CALLS[table]
    event = cols.first("event_text") if event_type == "track" else literal(name)
    event_table = cols.first("event") if event_type == "track" else literal(table)
    return (f"SELECT CAST(raw.{quote('id')} AS VARCHAR) AS event_id, owner.profile_id, {literal(source)} AS source, "
            f"{literal(event_type)} AS event_type, {event} AS event, {event_table} AS event_table, "
            f"{cols.time('timestamp', 'received_at')} AS occurred_at, {cols.time('received_at')} AS received_at, "
            f"{cols.first('anonymous_id')} AS anonymous_id, {cols.first('user_id')} AS user_id "
            f"FROM {quote(source)}.{quote(table)} AS raw LEFT JOIN cdp_staging.row_profiles AS owner "
            f"ON owner.source = {literal(source)} AND owner.source_table = {literal(table)} "
            f"AND owner.row_id = CAST(raw.{quote('id')} AS VARCHAR)")


def _email_events(source: str, cols: Columns) -> str:
    """Mailchimp opens/clicks/bounces; the person is found by the member's email or member id."""
    names = " ".join(f"WHEN {literal(action)} THEN {literal(name)}" for action, name in EMAIL_EVENTS.items())
    event_id = cols.first("activity_id")
    if "activity_id" not in cols:
        event_id = (f"MD5(CONCAT_WS('|', {cols.first('campaign_id')}, {cols.first('email_id')}, "
                    f"{cols.first('action')}, {cols.first('timestamp')}))")
    return (f"SELECT {event_id} AS event_id, COALESCE(by_member.profile_id, by_email.profile_id) AS profile_id, "
            f"{literal(source)} AS source, 'email' AS event_type, "
            f"CASE LOWER({cols.first('action')}) {names} ELSE 'Email ' || {cols.first('action')} END AS event, "
            f"'email_activity' AS event_table, {cols.time('timestamp')} AS occurred_at, "
            f"CAST(NULL AS TIMESTAMPTZ) AS received_at, CAST(NULL AS VARCHAR) AS anonymous_id, "
            f"CAST(NULL AS VARCHAR) AS user_id FROM {quote(source)}.{quote('email_activity')} AS raw "
            f"LEFT JOIN cdp.profile_identities AS by_member ON by_member.id_type = 'mailchimp_member_id' "
            f"AND by_member.id_value = {cols.first('email_id')} "
            f"LEFT JOIN cdp.profile_identities AS by_email ON by_email.id_type = 'email' "
            f"AND by_email.id_value = LOWER(TRIM({cols.first('email_address')}))")


def events_sql(engine: Engine, sources: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        if source_type == "events":
            parts += [_segment_events(source, table, Columns(tables[table], "raw"))
                      for table in SEGMENT_CALLS if table in tables and "id" in tables[table]]
        elif source_type == "mailchimp" and "email_activity" in tables:
            parts.append(_email_events(source, Columns(tables["email_activity"], "raw")))
    return union(parts, EVENT_COLUMNS)


def write_events(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [(source.name, source.type) for source in context.config.sources]
    # a suppressed person is left out of every model, this one too (the graph keeps them, so a
    # later delete or unsuppress still finds all their identifiers)
    engine.replace_table(model.target, f"SELECT * FROM ({events_sql(engine, sources)}) AS every_event "
                                       f"WHERE occurred_at <= (SELECT as_of FROM cdp_staging.build_context) "
                                       f"AND NOT EXISTS (SELECT 1 FROM cdp_staging.suppressed_profiles AS s "
                                       f"WHERE s.profile_id = every_event.profile_id)")
