/* ---
description: >
  Every event from every source up to the build's as_of, one table to query: Segment calls of
  every events source (tracks under their event name, pages as Page Viewed, screens, identifies,
  groups, aliases) and Mailchimp email activity (Email Opened, Email Link Clicked, Email Bounced),
  each with the person it belongs to. Properties stay in the per-event table named by event_table.
  Events of people with an active privacy suppression are left out.
materialized: runner
runner: models.profiles.events:write_events
depends_on: [cdp_staging.row_profiles, cdp.profile_identities, cdp_staging.build_context, cdp_staging.suppressed_profiles]
columns:
  event_id: the event's id (Segment messageId; Mailchimp activity id); join key to event_table
  profile_id: the person it belongs to (empty when none of its identifiers is known)
  source: the source (warehouse schema) it came from
  event_type: track, page, screen, identify, group, alias or email
  event: the event name (Order Completed, Page Viewed, Email Opened, ...)
  event_table: the table of the source holding its properties (order_completed, pages, email_activity, ...)
  occurred_at: when it happened (the call's timestamp, else when it was received)
  received_at: when Headwater received it (empty for pulled vendor activity)
  anonymous_id: the device/browser id it was sent with
  user_id: the app's user id it was sent with
--- */
