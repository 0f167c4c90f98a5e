/* ---
description: The identifier types from headwater.yml (identity.id_types), with their matching rules.
materialized: runner
runner: models.staging.settings:write_id_types
columns:
  id_type: plain name of the identifier type (user_id, email, phone, ...)
  normalize: how raw values are cleaned before matching (email, phone, lowercase, trim, none)
  max_per_profile: most distinct values of this type one profile may hold; empty means no limit
  priority: 1 is the strongest type; when a merge would break a limit the weaker edge is dropped
--- */
