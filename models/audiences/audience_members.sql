/* ---
description: >
  Current members of every audience, one row per audience and profile, with when the
  current stay began. The table reverse-ETL syncs read.
columns:
  audience: the audience name
  profile_id: the member
  entered_at: when the profile entered the audience (its open stay in cdp.audience_history)
--- */
SELECT audience, profile_id, MIN(entered_at) AS entered_at
FROM cdp.audience_history
WHERE exited_at IS NULL
GROUP BY audience, profile_id
