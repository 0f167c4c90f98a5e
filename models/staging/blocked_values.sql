/* ---
description: >
  Every distinct observed value that matches a blocklist pattern (identity.blocked_values, and
  an id type's own blocked_values), with the first pattern it matched. Such values never join people.
materialized: runner
runner: models.staging.blocking:write_blocked_values
depends_on: [cdp_staging.identity_blocklist]
columns:
  id_type: plain name of the identifier type
  raw_value: the value as sent
  pattern: the pattern it matched (against the trimmed, lowercased value)
--- */
SELECT DISTINCT id_type, raw_value FROM cdp_staging.identifier_observations
