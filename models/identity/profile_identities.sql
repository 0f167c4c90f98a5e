/* ---
description: >
  Every identifier of every person: which profile it belongs to, when it was first and last
  seen, and in which sources. Values are normalized (email lowercased and trimmed, phone in
  E.164 with its +). The table to join events and source rows to profiles.
columns:
  profile_id: the person's stable id
  id_type: plain name of the identifier type (user_id, anonymous_id, email, phone, ...)
  id_value: the normalized value
  first_seen_at: first time a row carried this identifier
  last_seen_at: last time a row carried this identifier
  sources: the sources that carried it, comma-separated, sorted
--- */
WITH assigned AS (
    SELECT DISTINCT component, profile_id FROM cdp_staging.profile_assignments
),
per_source AS (  -- one row per identifier and source first: a plain ordered STRING_AGG is then cheap
    SELECT assigned.profile_id, identifiers.id_type, identifiers.id_value, identifiers.source,
           MIN(identifiers.seen_at) AS first_seen_at, MAX(identifiers.seen_at) AS last_seen_at
    FROM cdp_staging.identity_components AS components
    JOIN assigned ON assigned.component = components.component
    JOIN cdp_staging.identifiers AS identifiers
        ON identifiers.id_type = components.id_type AND identifiers.id_value = components.id_value
       AND identifiers.rejected_reason IS NULL
    GROUP BY assigned.profile_id, identifiers.id_type, identifiers.id_value, identifiers.source
)
SELECT profile_id, id_type, id_value, MIN(first_seen_at) AS first_seen_at, MAX(last_seen_at) AS last_seen_at,
       STRING_AGG(source, ',' ORDER BY source) AS sources
FROM per_source
GROUP BY profile_id, id_type, id_value
