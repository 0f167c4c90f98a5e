/* ---
description: >
  Every consent signal for a person, one row per category a raw row spoke for: identify traits
  consent_<category>, Segment's context.consent.categoryPreferences on any call, Mailchimp list
  member status (email) and Shopify email/SMS marketing consent. Generated over the tables and
  columns that exist.
schema: cdp_staging
materialized: runner
runner: models.profiles.observations:write_consent_observations
depends_on: [cdp_staging.row_profiles]
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table
  row_id: the raw row's id
  profile_id: the person the row belongs to
  category: analytics, advertising, email or sms
  granted: true when the signal grants consent, false when it refuses or withdraws it
  changed_at: when the signal was given (call time; Shopify consent time; Mailchimp last change)
  signal: identify_trait, context_consent, mailchimp_status or shopify_marketing_consent
--- */
