/* ---
description: >
  Copy of cdp.profile_identities as the previous build left it (empty on the first build
  and on --full-refresh): what keeps profile ids stable.
schema: cdp_staging
materialized: runner
runner: models.identity.previous:write_previous_profile_identities
columns:
  profile_id: the profile the identifier belonged to
  id_type: plain name of the identifier type
  id_value: the normalized value
  first_seen_at: when the identifier was first seen
--- */
