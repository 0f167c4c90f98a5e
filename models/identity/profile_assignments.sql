/* ---
description: >
  Which profile id each identity component gets. A component keeps the id of the previous
  profile it holds most of; when it holds several previous profiles (a merge) the oldest
  survives (earliest first seen). A new component's id is derived from its earliest-seen
  identifier, so a full rebuild gives the same ids. One row per previous profile the component
  absorbed (previous_profile_id empty for a new one).
schema: cdp_staging
columns:
  component: the component number in cdp_staging.identity_components
  profile_id: the stable profile id
  previous_profile_id: a profile id of the previous build whose identifiers this component holds
--- */
WITH node_seen AS (
    SELECT id_type, id_value, MIN(seen_at) AS first_seen_at
    FROM cdp_staging.identifiers WHERE rejected_reason IS NULL
    GROUP BY id_type, id_value
),
nodes AS (
    SELECT components.component, components.id_type, components.id_value, node_seen.first_seen_at
    FROM cdp_staging.identity_components AS components
    JOIN node_seen ON node_seen.id_type = components.id_type AND node_seen.id_value = components.id_value
),
earliest AS (
    SELECT component, id_type, id_value
    FROM (SELECT component, id_type, id_value,
                 ROW_NUMBER() OVER (PARTITION BY component ORDER BY first_seen_at, id_type, id_value) AS age_rank
          FROM nodes) AS ranked
    WHERE age_rank = 1
),
previous_profiles AS (
    SELECT profile_id, MIN(first_seen_at) AS born_at
    FROM cdp_staging.previous_profile_identities
    GROUP BY profile_id
),
overlap AS (
    SELECT nodes.component, previous.profile_id, COUNT(*) AS shared
    FROM nodes
    JOIN cdp_staging.previous_profile_identities AS previous
        ON previous.id_type = nodes.id_type AND previous.id_value = nodes.id_value
    GROUP BY nodes.component, previous.profile_id
),
heirs AS (
    SELECT component, profile_id
    FROM (SELECT component, profile_id,
                 ROW_NUMBER() OVER (PARTITION BY profile_id ORDER BY shared DESC, component) AS claim_rank
          FROM overlap) AS claims
    WHERE claim_rank = 1
),
kept AS (
    SELECT component, profile_id
    FROM (SELECT heirs.component, heirs.profile_id,
                 ROW_NUMBER() OVER (PARTITION BY heirs.component
                                    ORDER BY previous_profiles.born_at, heirs.profile_id) AS age_rank
          FROM heirs JOIN previous_profiles ON previous_profiles.profile_id = heirs.profile_id) AS ranked
    WHERE age_rank = 1
),
fresh AS (
    SELECT component,
           'p_' || SUBSTR(MD5(id_type || ':' || id_value), 1, 24) AS first_choice,
           'p_' || SUBSTR(MD5(id_type || ':' || id_value || ':split'), 1, 24) AS split_choice
    FROM earliest
)
SELECT fresh.component,
       COALESCE(kept.profile_id,
                CASE WHEN fresh.first_choice IN (SELECT profile_id FROM kept) THEN fresh.split_choice
                     ELSE fresh.first_choice END) AS profile_id,
       heirs.profile_id AS previous_profile_id
FROM fresh
LEFT JOIN kept ON kept.component = fresh.component
LEFT JOIN heirs ON heirs.component = fresh.component
