/* ---
description: The profile rules of the current build from headwater.yml (traits section), one row.
schema: cdp_staging
materialized: runner
runner: models.profiles.settings:write_profile_settings
columns:
  primary_identifier: which email/phone is a profile's primary one (most_recent or first_seen)
  consent_default_analytics: analytics consent of a profile no source ever spoke for
  consent_default_advertising: advertising consent of a profile no source ever spoke for
  consent_default_email: email marketing consent of a profile no source ever spoke for
  consent_default_sms: SMS marketing consent of a profile no source ever spoke for
--- */
