/* ---
description: >
  One row per raw Segment call (identifies, tracks, pages, screens, groups, aliases) of every
  events source, with the identifiers it carries. Generated over the tables and columns that exist.
materialized: runner
runner: models.staging.segment:write_identifier_rows
columns:
  source: the events source (warehouse schema) the row came from
  source_table: the Segment table of the row (identifies, tracks, ...)
  row_id: the row's id (Segment messageId)
  seen_at: when the call happened (timestamp, else received_at)
  anonymous_id: the device/browser id, raw
  user_id: the app's user id, raw
  previous_id: an alias call's previousId, raw
  email: email from traits or context.traits, raw
  phone: phone from traits or context.traits, raw
--- */
