/* ---
description: >
  Computed traits per profile, one column each: the built-in favourite_product_category, then
  every trait defined under traits.computed in headwater.yml (event counters, aggregations,
  first/last/most frequent value and unique lists of an event property, with an optional window
  and property filters). Its own table, joined into cdp.profiles, so a bad trait definition fails
  this step alone and the generated SQL can be read and tested on its own.
materialized: runner
runner: models.profiles.computed:write_profile_traits
depends_on: [cdp_staging.row_profiles, cdp.profile_identities, cdp_staging.build_context]
columns:
  profile_id: the person
  favourite_product_category: the product category the person added to cart most often (ties to the latest)
--- */
