/* ---
description: Regexes of placeholder values that never join people (identity.blocked_values).
materialized: runner
runner: models.staging.settings:write_blocklist
columns:
  id_type: the identifier type the pattern applies to, or * for every type
  pattern: regular expression matched against the trimmed, lowercased value
--- */
