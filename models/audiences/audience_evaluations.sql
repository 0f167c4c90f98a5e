/* ---
description: >
  Who is in each enabled audience as of this build (the audiences section of headwater.yml
  and the shipped defaults), compiled to SQL by models/audiences/compiler.py.
schema: cdp_staging
materialized: runner
runner: models.audiences.membership:write_audience_evaluations
depends_on: [cdp.profiles, cdp.profile_identities, cdp.conversions, cdp_staging.row_profiles]
columns:
  audience: the audience name
  profile_id: a member
--- */
