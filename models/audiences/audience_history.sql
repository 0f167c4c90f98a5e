/* ---
description: >
  Every stay of a profile in an audience: when a build first saw it in, and when a later
  build saw it out (empty while it is still in). Kept across builds, including --full-refresh.
materialized: runner
runner: models.audiences.membership:write_audience_history
depends_on: [cdp_staging.audience_evaluations]
columns:
  audience: the audience name
  profile_id: the member
  entered_at: as_of of the build that first found the profile in the audience for this stay
  exited_at: as_of of the build that found it no longer in (empty while still a member)
--- */
