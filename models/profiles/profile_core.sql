/* ---
description: >
  The fixed part of every profile, one row per profile_id of cdp.profile_identities: primary
  email and phone, names, first/last seen, consent now per category, order traits with RFM,
  and email engagement. cdp.profiles adds the identify traits and computed traits to it.
schema: cdp_staging
by_profile:  # redone for the people whose identities, traits, consent, orders or events changed
  as_of_cuts: [{table: cdp.events, column: occurred_at, days_before: 30}]  # email engagement, last 30 days
columns:
  profile_id: the person's stable id
  email: primary email, per traits.primary_identifier (the most recently seen one, or the first seen)
  phone: primary phone in E.164, chosen like email
  first_name: latest first name (by traits.source_precedence, then latest)
  last_name: latest last name, chosen like first_name
  first_seen_at: first time any identifier of the person was seen
  last_seen_at: last time any identifier of the person was seen
  consent_analytics: analytics consent now (latest signal wins; traits.consent_default when none)
  consent_advertising: advertising consent now
  consent_email: email marketing consent now
  consent_sms: SMS marketing consent now
  order_count: number of purchases (0 when none)
  lifetime_revenue: sum of purchase values (0 when none)
  average_order_value: lifetime_revenue / order_count (empty when no purchase)
  first_order_at: time of the first purchase
  last_order_at: time of the latest purchase
  days_since_last_order: whole days from the latest purchase to the build's as_of
  rfm_recency: RFM recency quintile 1-5 among buyers (5 = most recent)
  rfm_frequency: RFM frequency quintile 1-5 among buyers (5 = most purchases)
  rfm_monetary: RFM monetary quintile 1-5 among buyers (5 = highest revenue)
  rfm_segment: RFM segment (Champions, Loyal, ..., At Risk, Hibernating); empty for non-buyers
  email_opens_30d: emails opened in the 30 days before the build's as_of
  email_clicks_30d: email links clicked in the 30 days before the build's as_of
--- */
WITH settings AS (
    SELECT * FROM cdp_staging.profile_settings
),
people AS (
    SELECT profile_id, MIN(first_seen_at) AS first_seen_at, MAX(last_seen_at) AS last_seen_at
    FROM cdp.profile_identities
    GROUP BY profile_id
),
contacts AS (
    SELECT profile_id, id_type, id_value
    FROM (SELECT identities.profile_id, identities.id_type, identities.id_value,
                 ROW_NUMBER() OVER (
                     PARTITION BY identities.profile_id, identities.id_type
                     ORDER BY CASE WHEN settings.primary_identifier = 'first_seen' THEN EPOCH(identities.first_seen_at)
                                   ELSE -EPOCH(identities.last_seen_at) END,
                              identities.id_value) AS pick
          FROM cdp.profile_identities AS identities CROSS JOIN settings
          WHERE identities.id_type IN ('email', 'phone')) AS ranked
    WHERE pick = 1
),
names AS (
    SELECT profile_id,
           MAX(CASE WHEN trait = 'first_name' THEN value END) AS first_name,
           MAX(CASE WHEN trait = 'last_name' THEN value END) AS last_name
    FROM cdp_staging.latest_traits
    WHERE trait IN ('first_name', 'last_name')
    GROUP BY profile_id
),
consent AS (
    SELECT profile_id,
           BOOL_OR(CASE WHEN category = 'analytics' THEN granted END) AS analytics,
           BOOL_OR(CASE WHEN category = 'advertising' THEN granted END) AS advertising,
           BOOL_OR(CASE WHEN category = 'email' THEN granted END) AS email,
           BOOL_OR(CASE WHEN category = 'sms' THEN granted END) AS sms
    FROM (SELECT profile_id, category, granted,
                 ROW_NUMBER() OVER (PARTITION BY profile_id, category
                                    ORDER BY changed_at DESC, CASE WHEN granted THEN 1 ELSE 0 END) AS recency
          FROM cdp.consent_history) AS latest
    WHERE recency = 1
    GROUP BY profile_id
),
email_engagement AS (
    SELECT profile_id,
           COUNT(*) FILTER (WHERE event = 'Email Opened') AS opens,
           COUNT(*) FILTER (WHERE event = 'Email Link Clicked') AS clicks
    FROM cdp.events
    WHERE event_type = 'email' AND profile_id IS NOT NULL
      AND occurred_at > (SELECT as_of FROM cdp_staging.build_context) - INTERVAL 30 DAY
    GROUP BY profile_id
)
SELECT people.profile_id,
       email.id_value AS email,
       phone.id_value AS phone,
       names.first_name,
       names.last_name,
       people.first_seen_at,
       people.last_seen_at,
       COALESCE(consent.analytics, settings.consent_default_analytics) AS consent_analytics,
       COALESCE(consent.advertising, settings.consent_default_advertising) AS consent_advertising,
       COALESCE(consent.email, settings.consent_default_email) AS consent_email,
       COALESCE(consent.sms, settings.consent_default_sms) AS consent_sms,
       COALESCE(orders.order_count, 0) AS order_count,
       COALESCE(orders.lifetime_revenue, 0) AS lifetime_revenue,
       orders.average_order_value,
       orders.first_order_at,
       orders.last_order_at,
       orders.days_since_last_order,
       orders.rfm_recency,
       orders.rfm_frequency,
       orders.rfm_monetary,
       orders.rfm_segment,
       COALESCE(email_engagement.opens, 0) AS email_opens_30d,
       COALESCE(email_engagement.clicks, 0) AS email_clicks_30d
FROM people
CROSS JOIN settings
LEFT JOIN contacts AS email ON email.profile_id = people.profile_id AND email.id_type = 'email'
LEFT JOIN contacts AS phone ON phone.profile_id = people.profile_id AND phone.id_type = 'phone'
LEFT JOIN names ON names.profile_id = people.profile_id
LEFT JOIN consent ON consent.profile_id = people.profile_id
LEFT JOIN cdp_staging.profile_orders AS orders ON orders.profile_id = people.profile_id
LEFT JOIN email_engagement ON email_engagement.profile_id = people.profile_id
