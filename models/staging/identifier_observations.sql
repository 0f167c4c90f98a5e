/* ---
description: >
  Every identifier seen on a raw row, one row each, before normalization. An alias's
  previousId counts as a user_id when that value was ever sent as a userId, else as an anonymous_id.
  Rows after the build's as_of are left out (rows without a time are kept).
materialized: runner
runner: models.staging.row_batches:write_row_batch
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table
  row_id: the raw row's id
  seen_at: when the row happened
  id_type: plain name of the identifier type
  raw_value: the value as sent
  country_hint: the country the row gives ('' when none), the region of a local phone number
  refreshed_at: when a build last wrote this row (rows written since a model last ran are the ones it redoes)
--- */
WITH rows_as_of AS (
    SELECT source, source_table, row_id, seen_at, anonymous_id, user_id, previous_id, email, phone, order_id,
           checkout_id, shopify_customer_id, stripe_customer_id, mailchimp_member_id, mailchimp_unique_email_id,
           COALESCE(country, '') AS country_hint
    FROM cdp_staging.identifier_rows AS row_batch
    WHERE row_id IS NOT NULL
      AND (seen_at IS NULL OR seen_at <= (SELECT as_of FROM cdp_staging.build_context))
),
known_user_ids AS (  -- every row's, not only the batch's: an alias is typed by all user ids sent
    SELECT DISTINCT user_id FROM cdp_staging.identifier_rows
    WHERE user_id IS NOT NULL AND row_id IS NOT NULL
      AND (seen_at IS NULL OR seen_at <= (SELECT as_of FROM cdp_staging.build_context))
)
SELECT source, source_table, row_id, seen_at, 'anonymous_id' AS id_type, anonymous_id AS raw_value, country_hint
FROM rows_as_of WHERE anonymous_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'user_id' AS id_type, user_id AS raw_value, country_hint
FROM rows_as_of WHERE user_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at,
       CASE WHEN previous_id IN (SELECT user_id FROM known_user_ids) THEN 'user_id' ELSE 'anonymous_id' END AS id_type,
       previous_id AS raw_value, country_hint
FROM rows_as_of WHERE previous_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'email' AS id_type, email AS raw_value, country_hint
FROM rows_as_of WHERE email IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'phone' AS id_type, phone AS raw_value, country_hint
FROM rows_as_of WHERE phone IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'order_id' AS id_type, order_id AS raw_value, country_hint
FROM rows_as_of WHERE order_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'checkout_id' AS id_type, checkout_id AS raw_value, country_hint
FROM rows_as_of WHERE checkout_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'shopify_customer_id' AS id_type, shopify_customer_id AS raw_value,
       country_hint
FROM rows_as_of WHERE shopify_customer_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'stripe_customer_id' AS id_type, stripe_customer_id AS raw_value,
       country_hint
FROM rows_as_of WHERE stripe_customer_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'mailchimp_member_id' AS id_type, mailchimp_member_id AS raw_value,
       country_hint
FROM rows_as_of WHERE mailchimp_member_id IS NOT NULL
UNION ALL
SELECT source, source_table, row_id, seen_at, 'mailchimp_unique_email_id' AS id_type,
       mailchimp_unique_email_id AS raw_value, country_hint
FROM rows_as_of WHERE mailchimp_unique_email_id IS NOT NULL
