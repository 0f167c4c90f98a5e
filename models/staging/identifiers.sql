/* ---
description: >
  Every identifier observation, normalized for matching (email trimmed and lowercased, phone
  in E.164, others as configured), with the reason when it may not be used to match people.
materialized: runner
runner: models.staging.row_batches:write_row_batch
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table
  row_id: the raw row's id
  seen_at: when the row happened
  id_type: plain name of the identifier type
  priority: the type's rank, 1 strongest
  raw_value: the value as sent
  id_value: the normalized value; empty when it cannot be normalized
  rejected_reason: empty when usable; blocked_value or invalid_phone otherwise
  rejected_detail: the blocklist pattern that matched, for blocked_value
  refreshed_at: when a build last wrote this row (rows written since a model last ran are the ones it redoes)
--- */
WITH typed AS (
    SELECT row_batch.*, id_types.normalize, id_types.priority
    FROM cdp_staging.identifier_observations AS row_batch
    JOIN cdp_staging.identity_id_types AS id_types ON id_types.id_type = row_batch.id_type
),
phones AS (  -- parsed with today's default country; equality joins only, so the engine can hash them
    SELECT numbers.raw_value, numbers.country_hint, numbers.e164
    FROM cdp_staging.phone_numbers AS numbers
    JOIN cdp_staging.build_context AS build ON build.default_country = numbers.default_country
),
normalized AS (
    SELECT typed.source, typed.source_table, typed.row_id, typed.seen_at, typed.id_type, typed.priority,
           typed.raw_value, typed.normalize,
           CASE typed.normalize
               WHEN 'email' THEN LOWER(TRIM(typed.raw_value))
               WHEN 'lowercase' THEN LOWER(TRIM(typed.raw_value))
               WHEN 'trim' THEN TRIM(typed.raw_value)
               WHEN 'phone' THEN phones.e164
               ELSE typed.raw_value
           END AS id_value
    FROM typed
    LEFT JOIN phones ON phones.raw_value = typed.raw_value AND phones.country_hint = typed.country_hint
)
SELECT normalized.source, normalized.source_table, normalized.row_id, normalized.seen_at, normalized.id_type,
       normalized.priority, normalized.raw_value, normalized.id_value,
       CASE
           WHEN blocked.pattern IS NOT NULL THEN 'blocked_value'
           WHEN normalized.id_value IS NULL THEN 'invalid_' || normalized.normalize
       END AS rejected_reason,
       blocked.pattern AS rejected_detail
FROM normalized
LEFT JOIN cdp_staging.blocked_values AS blocked ON blocked.id_type = normalized.id_type AND blocked.raw_value = normalized.raw_value
