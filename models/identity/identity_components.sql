/* ---
description: >
  The identity graph resolved: every usable identifier with the connected component it
  belongs to, after the guards (identity.id_types limits, identity.max_component_size) dropped
  over-merging edges; those go to cdp_staging.identity_guard_rejections (shown in cdp.identity_rejections).
schema: cdp_staging
materialized: runner
runner: models.identity.resolve:write_identity_components
depends_on: [cdp_staging.identifiers, cdp_staging.identity_edges, cdp_staging.identity_id_types]
columns:
  id_type: plain name of the identifier type
  id_value: the normalized value
  component: internal number of the component (not stable across builds; profile_id is)
--- */
