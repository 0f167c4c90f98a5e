/* ---
description: >
  Every change of a person's consent, per category, up to the build's as_of: the first signal
  and each later signal that says the opposite of the one before (repeats are left out). The
  latest row of a category is the person's consent now (cdp.profiles.consent_*). When two
  sources disagree at the same instant, refusal wins.
by_profile:  # redone for the people with new or moved signals (models/by_profile.py)
  as_of_cuts: [{table: cdp_staging.consent_observations, column: changed_at}]
columns:
  profile_id: the person
  category: analytics, advertising, email or sms
  granted: true when consent was granted, false when it was refused or withdrawn
  changed_at: when the change happened
  source: the source (warehouse schema) that reported it
  signal: identify_trait, context_consent, mailchimp_status or shopify_marketing_consent
--- */
WITH ordered AS (
    SELECT profile_id, category, granted, changed_at, source, signal,
           ROW_NUMBER() OVER (PARTITION BY profile_id, category
                              ORDER BY changed_at, CASE WHEN granted THEN 0 ELSE 1 END, source, signal,
                                       source_table, row_id) AS sequence
    FROM cdp_staging.consent_observations
    WHERE changed_at <= (SELECT as_of FROM cdp_staging.build_context)
),
compared AS (
    SELECT ordered.*, LAG(granted) OVER (PARTITION BY profile_id, category ORDER BY sequence) AS previous
    FROM ordered
)
SELECT profile_id, category, granted, changed_at, source, signal
FROM compared
WHERE previous IS NULL OR previous <> granted
