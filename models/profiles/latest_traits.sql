/* ---
description: >
  The winning value of every trait of every profile, as of the build: the value from the
  source with the best traits.source_precedence, and among those the latest non-null one.
schema: cdp_staging
by_profile:  # redone for the people with new or moved observations (models/by_profile.py)
  as_of_cuts: [{table: cdp_staging.trait_observations, column: observed_at}]
columns:
  profile_id: the person
  trait: the trait name
  value: the winning value as text
  value_type: boolean, number, timestamp or text
  source: the source the value came from
  observed_at: when that source reported it
--- */
WITH observed AS (
    SELECT observations.*, COALESCE(precedence.precedence, 1000) AS precedence
    FROM cdp_staging.trait_observations AS observations
    LEFT JOIN cdp_staging.trait_source_precedence AS precedence ON precedence.source = observations.source
    WHERE observations.observed_at IS NULL
       OR observations.observed_at <= (SELECT as_of FROM cdp_staging.build_context)
)
SELECT profile_id, trait, value, value_type, source, observed_at
FROM (SELECT profile_id, trait, value, value_type, source, observed_at,
             ROW_NUMBER() OVER (PARTITION BY profile_id, trait
                                ORDER BY precedence, observed_at DESC NULLS LAST, source, source_table, row_id) AS pick
      FROM observed) AS ranked
WHERE pick = 1
