/* ---
description: >
  Every non-null trait value any source reported for a person, one row per value: identify
  traits of every events source (each trait column of identifies), and the person fields of
  Shopify customers, Stripe customers and Mailchimp members. Generated over the tables and
  columns that exist.
schema: cdp_staging
materialized: runner
runner: models.profiles.observations:write_trait_observations
depends_on: [cdp_staging.row_profiles]
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table (identifies, customers, members)
  row_id: the raw row's id
  profile_id: the person the row belongs to
  observed_at: when the source reported it (identify time, vendor update time)
  trait: the trait name (the identify column, or first_name/last_name/email/phone/name/country for vendors)
  value: the value as text
  value_type: boolean, number, timestamp or text; the type the profile column gets back
--- */
