/* ---
description: >
  Credit for each conversion, per marketing touchpoint and attribution model. A touchpoint is
  a page view of the buyer with campaign parameters or an ad click id, at most
  conversions.attribution_lookback_days before the purchase. Models: first_touch, last_touch,
  linear, time_decay (credit halves every conversions.time_decay_half_life_days, default 7,
  of age) and position_based (40% first, 40% last, 20% shared by the middle). A conversion
  without touchpoints gives all credit to one `direct` row. Credits of one conversion and
  model sum to 1; zero-credit rows are left out.
columns:
  conversion_id: the conversion in cdp.conversions
  profile_id: the buyer
  order_id: the order id
  converted_at: when the purchase happened
  model: first_touch, last_touch, linear, time_decay or position_based
  touch_position: 1 for the earliest touchpoint of the conversion (0 for direct)
  touch_count: how many touchpoints the conversion has in the lookback (0 for direct)
  touched_at: when the touchpoint's page was viewed (empty for direct)
  channel: google_ads, meta_ads, tiktok_ads (from the click id), else email, paid_search, social, referral, affiliate, other_campaign; direct when no touchpoint
  click_id_type: gclid, gbraid, wbraid, fbclid or ttclid when the touch carried one
  utm_source: campaign source of the touch
  utm_medium: campaign medium of the touch
  utm_campaign: campaign name of the touch
  page_url: the landing page
  touch_row_id: the page call's messageId
  credit: this touch's share of the conversion under the model, between 0 and 1
  credited_value: credit times the conversion's value
--- */
WITH settings AS (
    SELECT * FROM cdp_staging.conversion_settings
),
touches AS (
    SELECT conversions.conversion_id, conversions.profile_id, conversions.order_id,
           conversions.occurred_at AS converted_at, conversions.value, views.viewed_at AS touched_at,
           views.source, views.row_id, views.url, views.utm_source, views.utm_medium, views.utm_campaign,
           CASE WHEN views.gclid IS NOT NULL THEN 'gclid' WHEN views.gbraid IS NOT NULL THEN 'gbraid'
                WHEN views.wbraid IS NOT NULL THEN 'wbraid' WHEN views.fbclid IS NOT NULL THEN 'fbclid'
                WHEN views.ttclid IS NOT NULL THEN 'ttclid' END AS click_id_type,
           EPOCH(conversions.occurred_at) - EPOCH(views.viewed_at) AS age_seconds
    FROM cdp.conversions AS conversions
    JOIN cdp_staging.profile_page_views AS views
        ON views.profile_id = conversions.profile_id AND views.viewed_at <= conversions.occurred_at
       AND views.viewed_at > conversions.occurred_at - (SELECT attribution_lookback_days FROM settings) * INTERVAL 1 DAY
    WHERE COALESCE(views.utm_source, views.utm_medium, views.utm_campaign, views.gclid, views.gbraid, views.wbraid,
                   views.fbclid, views.ttclid) IS NOT NULL
),
ranked AS (
    SELECT touches.*,
           ROW_NUMBER() OVER (PARTITION BY conversion_id ORDER BY touched_at, source, row_id) AS touch_position,
           COUNT(*) OVER (PARTITION BY conversion_id) AS touch_count,
           POWER(0.5, CAST(age_seconds AS DOUBLE)
                      / ((SELECT time_decay_half_life_days FROM settings) * 86400.0)) AS decay_weight
    FROM touches
),
weighted AS (
    SELECT ranked.*, SUM(decay_weight) OVER (PARTITION BY conversion_id) AS decay_total FROM ranked
),
credited AS (
    SELECT weighted.*, models.model,
           CASE models.model
               WHEN 'first_touch' THEN CASE WHEN touch_position = 1 THEN 1.0 ELSE 0.0 END
               WHEN 'last_touch' THEN CASE WHEN touch_position = touch_count THEN 1.0 ELSE 0.0 END
               WHEN 'linear' THEN 1.0 / touch_count
               WHEN 'time_decay' THEN decay_weight / decay_total
               WHEN 'position_based' THEN
                   CASE WHEN touch_count = 1 THEN 1.0
                        WHEN touch_count = 2 THEN 0.5
                        WHEN touch_position = 1 OR touch_position = touch_count THEN 0.4
                        ELSE 0.2 / (touch_count - 2) END
           END AS credit
    FROM weighted
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('time_decay'), ('position_based'))
        AS models(model)
),
direct AS (
    SELECT conversions.conversion_id, conversions.profile_id, conversions.order_id,
           conversions.occurred_at AS converted_at, conversions.value, models.model
    FROM cdp.conversions AS conversions
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear'), ('time_decay'), ('position_based'))
        AS models(model)
    WHERE conversions.conversion_id NOT IN (SELECT conversion_id FROM touches)
)
SELECT conversion_id, profile_id, order_id, converted_at, model, touch_position, touch_count, touched_at,
       CASE WHEN click_id_type IN ('gclid', 'gbraid', 'wbraid') THEN 'google_ads'
            WHEN click_id_type = 'fbclid' THEN 'meta_ads'
            WHEN click_id_type = 'ttclid' THEN 'tiktok_ads'
            WHEN LOWER(utm_medium) IN ('email', 'newsletter') THEN 'email'
            WHEN LOWER(utm_medium) IN ('cpc', 'ppc', 'paid', 'paid_search', 'paidsearch') THEN 'paid_search'
            WHEN LOWER(utm_medium) IN ('social', 'paid_social', 'social_paid', 'paidsocial') THEN 'social'
            WHEN LOWER(utm_medium) = 'referral' THEN 'referral'
            WHEN LOWER(utm_medium) = 'affiliate' THEN 'affiliate'
            ELSE 'other_campaign' END AS channel,
       click_id_type, utm_source, utm_medium, utm_campaign, url AS page_url, row_id AS touch_row_id,
       CAST(credit AS DOUBLE) AS credit, CAST(credit * value AS DOUBLE) AS credited_value
FROM credited
WHERE credit > 0
UNION ALL
SELECT conversion_id, profile_id, order_id, converted_at, model, 0 AS touch_position, 0 AS touch_count,
       CAST(NULL AS TIMESTAMPTZ) AS touched_at, 'direct' AS channel, CAST(NULL AS VARCHAR) AS click_id_type,
       CAST(NULL AS VARCHAR) AS utm_source, CAST(NULL AS VARCHAR) AS utm_medium, CAST(NULL AS VARCHAR) AS utm_campaign,
       CAST(NULL AS VARCHAR) AS page_url, CAST(NULL AS VARCHAR) AS touch_row_id, CAST(1.0 AS DOUBLE) AS credit,
       CAST(value AS DOUBLE) AS credited_value
FROM direct
