"""cdp.events: every event of every source in one table, with the person it belongs to.

Why generated: each events source has only the Segment tables its apps have called, and a
Mailchimp source only once it was pulled, so the UNION is written over what exists. Event
properties stay in the per-event tables (`event_table`, joined on `event_id`): one narrow
table stays fast to scan, and the typed property columns stay where analysts expect them.
"""

from __future__ import annotations

from dataclasses import replace

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.conversions.raw import Columns
from models.incremental import RawPart, refresh
from models.rejoin import MARKER, PersonJoin, rejoin

EVENT_COLUMNS = {"event_id": "VARCHAR", "profile_id": "VARCHAR", "source": "VARCHAR", "event_type": "VARCHAR",
                 "event": "VARCHAR", "event_table": "VARCHAR", "occurred_at": "TIMESTAMPTZ",
                 "received_at": "TIMESTAMPTZ", "anonymous_id": "VARCHAR", "user_id": "VARCHAR"}

# Segment table -> (event_type, event name for calls that are not tracks)
SEGMENT_CALLS = {"tracks": ("track", None), "pages": ("page", "Page Viewed"), "screens": ("screen", "Screen Viewed"),
                 "identifies": ("identify", "Identify"), "groups": ("group", "Group"), "aliases": ("alias", "Alias")}
# Mailchimp email activity actions -> Segment's Email spec event names
EMAIL_EVENTS = {"open": "Email Opened", "click": "Email Link Clicked", "bounce": "Email Bounced"}


# cdp_staging.event_rows: every event without its person, kept incrementally (models.incremental);
# raw_table, member_id and member_email say how the person is found at each build
EVENT_ROW_COLUMNS = {**{name: kind for name, kind in EVENT_COLUMNS.items() if name != "profile_id"},
                     "raw_table": "VARCHAR", "member_id": "VARCHAR", "member_email": "VARCHAR"}


def _segment_events(source: str, table: str, cols: Columns) -> str:
    event_type, name = SEGMENT_CALLS[table]
    event = cols.first("event_text") if event_type == "track" else literal(name)
    event_table = cols.first("event") if event_type == "track" else literal(table)
    return (f"SELECT CAST(raw.{quote('id')} AS VARCHAR) AS event_id, {literal(source)} AS source, "
            f"{literal(event_type)} AS event_type, {event} AS event, {event_table} AS event_table, "
            f"{cols.time('timestamp', 'received_at')} AS occurred_at, {cols.time('received_at')} AS received_at, "
            f"{cols.first('anonymous_id')} AS anonymous_id, {cols.first('user_id')} AS user_id, "
            f"{literal(table)} AS raw_table, CAST(NULL AS VARCHAR) AS member_id, "
            f"CAST(NULL AS VARCHAR) AS member_email FROM {quote(source)}.{quote(table)} AS raw")


def _email_events(source: str, cols: Columns) -> str:
    """Mailchimp opens/clicks/bounces; the person is found by the member's email or member id (see `owned_events`)."""
    names = " ".join(f"WHEN {literal(action)} THEN {literal(name)}" for action, name in EMAIL_EVENTS.items())
    event_id = cols.first("activity_id")
    if "activity_id" not in cols:
        event_id = (f"MD5(CONCAT_WS('|', {cols.first('campaign_id')}, {cols.first('email_id')}, "
                    f"{cols.first('action')}, {cols.first('timestamp')}))")
    return (f"SELECT {event_id} AS event_id, {literal(source)} AS source, 'email' AS event_type, "
            f"CASE LOWER({cols.first('action')}) {names} ELSE 'Email ' || {cols.first('action')} END AS event, "
            f"'email_activity' AS event_table, {cols.time('timestamp')} AS occurred_at, "
            f"CAST(NULL AS TIMESTAMPTZ) AS received_at, CAST(NULL AS VARCHAR) AS anonymous_id, "
            f"CAST(NULL AS VARCHAR) AS user_id, 'email_activity' AS raw_table, "
            f"{cols.first('email_id')} AS member_id, LOWER(TRIM({cols.first('email_address')})) AS member_email "
            f"FROM {quote(source)}.{quote('email_activity')} AS raw")


def event_parts(engine: Engine, sources: list[tuple[str, str]]) -> list[RawPart]:
    parts: list[RawPart] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        if source_type == "events":
            parts += [RawPart(source, table, _segment_events(source, table, Columns(tables[table], "raw")))
                      for table in SEGMENT_CALLS if table in tables and "id" in tables[table]]
        elif source_type == "mailchimp" and "email_activity" in tables:
            parts.append(RawPart(source, "email_activity", _email_events(source, Columns(tables["email_activity"], "raw"))))
    return parts


def owned_events(rows: str) -> str:
    """Each event with its person: a Segment call's row owner, a Mailchimp activity's member or email."""
    columns = ", ".join("COALESCE(owner.profile_id, by_member.profile_id, by_email.profile_id) AS profile_id"
                        if name == "profile_id" else f"happened.{quote(name)}" for name in EVENT_COLUMNS)
    return (f"SELECT {columns} FROM {rows} AS happened "
            f"LEFT JOIN cdp_staging.row_profiles AS owner ON owner.source = happened.source "
            f"AND owner.source_table = happened.raw_table AND owner.row_id = happened.event_id "
            f"LEFT JOIN cdp.profile_identities AS by_member ON by_member.id_type = 'mailchimp_member_id' "
            f"AND by_member.id_value = happened.member_id "
            f"LEFT JOIN cdp.profile_identities AS by_email ON by_email.id_type = 'email' "
            f"AND by_email.id_value = happened.member_email")


def events_as_of(rows: str) -> str:
    """cdp.events' rows from `rows` (of event_rows): each with its person, up to the build's as_of.

    A suppressed person is left out of every model, this one too (the graph keeps them, so a
    later delete or unsuppress still finds all their identifiers)."""
    return (f"SELECT * FROM ({owned_events(rows)}) AS every_event "
            f"WHERE occurred_at <= (SELECT as_of FROM cdp_staging.build_context) "
            f"AND NOT EXISTS (SELECT 1 FROM cdp_staging.suppressed_profiles AS s "
            f"WHERE s.profile_id = every_event.profile_id)")


def write_events(model: Model, context: BuildContext, engine: Engine) -> None:
    """New loads' events into cdp_staging.event_rows (models.incremental); then the events whose
    person, content or side of as_of changed, with their person (models.rejoin)."""
    sources = [(source.name, source.type) for source in context.config.sources]
    rows = replace(model, schema="cdp_staging", name="event_rows")
    engine.ensure_schema(rows.schema)
    report = refresh(rows, context, engine, event_parts(engine, sources), EVENT_ROW_COLUMNS, owner_column="raw_table",
                     marker_column=MARKER)
    join = PersonJoin(target=model.target, columns=tuple(EVENT_COLUMNS), values=rows.target, select=events_as_of,
                      key={"source": "v.source", "event_id": "v.event_id"},
                      raw_row=("v.source", "v.raw_table", "v.event_id"), time_column="occurred_at",
                      # an email activity's person comes from its member or email, not from row_profiles
                      always="v.member_id IS NOT NULL OR v.member_email IS NOT NULL",
                      excluded="SELECT profile_id FROM cdp_staging.suppressed_profiles")
    rejoin(engine, context, model.key, join, report.reread_sources)
