/* ---
description: >
  Which profile each raw row belongs to: the profile of the row's strongest usable identifier
  (lowest identity priority). How page views, purchases and events find their person.
  Recomputed whole each build; the rows whose person changed since the last build go to
  cdp_staging.row_profile_changes (models/row_owners.py), so the models joining rows to their
  person redo only those.
schema: cdp_staging
materialized: runner
runner: models.row_owners:write_row_profiles
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table as cdp_staging.identifiers names it (tracks, pages, orders, charges, ...)
  row_id: the raw row's id
  profile_id: the person the row belongs to
  priority: the identity priority of the identifier that decided (1 strongest)
--- */
SELECT source, source_table, row_id, profile_id, priority
FROM (SELECT ids.source, ids.source_table, ids.row_id, identities.profile_id, ids.priority,
             ROW_NUMBER() OVER (PARTITION BY ids.source, ids.source_table, ids.row_id
                                ORDER BY ids.priority, ids.id_type, ids.id_value) AS strength
      FROM cdp_staging.identifiers AS ids
      JOIN cdp.profile_identities AS identities
          ON identities.id_type = ids.id_type AND identities.id_value = ids.id_value
      WHERE ids.rejected_reason IS NULL) AS ranked
WHERE strength = 1
