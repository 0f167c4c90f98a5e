/* ---
description: >
  Log of profile merges: each row says a profile id was absorbed into another because new
  data joined them; the older profile's id survives. Appended by each build.
materialized: append
columns:
  merged_profile_id: the profile id that no longer exists
  surviving_profile_id: the profile id its identifiers now belong to
  merged_at: the as_of time of the build that saw the merge
--- */
SELECT DISTINCT assignments.previous_profile_id AS merged_profile_id,
       assignments.profile_id AS surviving_profile_id,
       (SELECT as_of FROM cdp_staging.build_context) AS merged_at
FROM cdp_staging.profile_assignments AS assignments
WHERE assignments.previous_profile_id IS NOT NULL
  AND assignments.previous_profile_id <> assignments.profile_id
  AND assignments.previous_profile_id NOT IN (SELECT profile_id FROM cdp_staging.profile_assignments)
