/* ---
description: The current build's as_of and the conversions section of headwater.yml, one row.
schema: cdp_staging
materialized: runner
runner: models.conversions.settings:write_conversion_settings
columns:
  as_of: purchases and page views after this instant are ignored
  click_lookback_days: click ids come from landing pages at most this many days before a purchase
  attribution_lookback_days: touchpoints at most this many days before a purchase share its credit
  time_decay_half_life_days: a touch this many days older earns half the time_decay credit
--- */
