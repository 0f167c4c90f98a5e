/* ---
description: The settings of the current build, one row; models filter raw rows on as_of.
materialized: runner
runner: models.staging.settings:write_build_context
columns:
  as_of: rows seen after this instant are ignored, so a rebuild "as of" a time is repeatable
  full_refresh: true when this build ignores the state of earlier builds
  default_country: phone region assumed for numbers without a +country code (identity.default_country)
--- */
