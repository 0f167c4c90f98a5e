/* ---
description: >
  Profiles whose person asked to be suppressed or was deleted: any of their identifiers hashes
  (SHA-256, as the privacy step writes them) to an active row of cdp.privacy_suppressions.
  cdp.profiles leaves them out, and so every audience and audience sync does. Empty until
  the first privacy request.
schema: cdp_staging
materialized: runner
runner: models.profiles.suppression:write_suppressed_profiles
depends_on: [cdp.profile_identities]
columns:
  profile_id: a suppressed person's profile id
--- */
