/* ---
description: >
  Whose trait values win (traits.source_precedence): a value from a lower precedence number
  beats a later value from a higher one; sources not listed share the last rank, where the
  latest value wins.
schema: cdp_staging
materialized: runner
runner: models.profiles.settings:write_trait_source_precedence
columns:
  source: the source (warehouse schema)
  precedence: 1 is the strongest; unlisted sources get 1000
--- */
