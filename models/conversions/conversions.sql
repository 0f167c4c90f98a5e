/* ---
description: >
  One row per real purchase up to the build's as_of, de-duplicated across sources: a Shopify
  order, its `Order Completed` events (from apps or webhooks) and the Stripe charge that paid
  it are one conversion, matched on the order id. Cancelled orders are left out. Carries what
  ad platforms need to match it: the click ids of the person's landing pages within
  conversions.click_lookback_days before the purchase, browser ids, and the profile's email and phone.
columns:
  conversion_id: stable id of the conversion (derived from the order id)
  profile_id: the buyer's profile (empty when no identifier of the purchase is known)
  order_id: the order id (Shopify order id, Stripe Checkout Session or charge id)
  value: amount paid, from the strongest source (Shopify order, then Stripe, then events)
  currency: ISO 4217 code, upper case
  occurred_at: when the purchase happened, from the strongest source
  gclid: latest Google Ads click id within the click lookback
  gbraid: latest Google Ads iOS app-to-web click id within the click lookback
  wbraid: latest Google Ads iOS web-to-app click id within the click lookback
  fbc: Meta click id as the _fbc cookie value, fb.1.{landing time in ms}.{fbclid}
  fbp: Meta's _fbp browser cookie, from the purchase event else the latest page view
  ttclid: latest TikTok click id within the click lookback
  ip: buyer's IP address, from the purchase event else the latest page view
  user_agent: buyer's browser user agent, from the purchase event else the latest page view
  page_url: URL the purchase was made on, else the latest page viewed before it
  email: the profile's most recently seen email (lowercased), else the order's
  phone: the profile's most recently seen phone in E.164
  sources: the sources that reported the purchase, comma-separated, sorted
--- */
WITH settings AS (
    SELECT * FROM cdp_staging.conversion_settings
),
observed AS (
    SELECT * FROM cdp_staging.purchase_observations
    WHERE order_id IS NOT NULL AND order_id <> '' AND occurred_at <= (SELECT as_of FROM settings)
),
purchases AS (
    SELECT order_id, STRING_AGG(DISTINCT source, ',' ORDER BY source) AS sources
    FROM observed
    GROUP BY order_id
    HAVING MAX(CASE WHEN cancelled THEN 1 ELSE 0 END) = 0
),
timed AS (
    SELECT order_id, occurred_at
    FROM (SELECT order_id, occurred_at,
                 ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY precedence, occurred_at, source, row_id) AS pick
          FROM observed) AS ranked
    WHERE pick = 1
),
priced AS (
    SELECT order_id, value, currency
    FROM (SELECT order_id, value, currency,
                 ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY precedence, occurred_at, source, row_id) AS pick
          FROM observed WHERE value IS NOT NULL) AS ranked
    WHERE pick = 1
),
browser AS (
    SELECT order_id, ip, user_agent, page_url, fbp
    FROM (SELECT order_id, ip, user_agent, page_url, fbp,
                 ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY occurred_at, source, row_id) AS pick
          FROM observed WHERE COALESCE(ip, user_agent, page_url, fbp) IS NOT NULL) AS ranked
    WHERE pick = 1
),
owners AS (
    SELECT order_id, profile_id
    FROM (SELECT observed.order_id, row_owner.profile_id,
                 ROW_NUMBER() OVER (PARTITION BY observed.order_id
                                    ORDER BY row_owner.priority, observed.precedence, observed.occurred_at,
                                             observed.source, observed.row_id) AS strength
          FROM observed
          JOIN cdp_staging.row_profiles AS row_owner
              ON row_owner.source = observed.source AND row_owner.source_table = observed.identity_table
             AND row_owner.row_id = observed.row_id) AS ranked
    WHERE strength = 1
),
order_emails AS (
    SELECT order_id, MIN(ids.id_value) AS email
    FROM observed
    JOIN cdp_staging.identifiers AS ids
        ON ids.source = observed.source AND ids.source_table = observed.identity_table
       AND ids.row_id = observed.row_id AND ids.id_type = 'email' AND ids.rejected_reason IS NULL
    GROUP BY order_id
),
base AS (
    SELECT purchases.order_id, purchases.sources, owners.profile_id, timed.occurred_at, priced.value,
           priced.currency
    FROM purchases
    JOIN timed ON timed.order_id = purchases.order_id
    LEFT JOIN priced ON priced.order_id = purchases.order_id
    LEFT JOIN owners ON owners.order_id = purchases.order_id
),
latest_clicks AS (
    SELECT order_id, click_type, click_id, clicked_at
    FROM (SELECT base.order_id, clicks.click_type, clicks.click_id, clicks.clicked_at,
                 ROW_NUMBER() OVER (PARTITION BY base.order_id, clicks.click_type
                                    ORDER BY clicks.clicked_at DESC, clicks.source DESC, clicks.row_id DESC) AS recency
          FROM base
          JOIN cdp_staging.profile_clicks AS clicks
              ON clicks.profile_id = base.profile_id AND clicks.clicked_at <= base.occurred_at
             AND clicks.clicked_at >= base.occurred_at - (SELECT click_lookback_days FROM settings) * INTERVAL 1 DAY
         ) AS ranked
    WHERE recency = 1
),
click_columns AS (
    SELECT order_id,
           MAX(CASE WHEN click_type = 'gclid' THEN click_id END) AS gclid,
           MAX(CASE WHEN click_type = 'gbraid' THEN click_id END) AS gbraid,
           MAX(CASE WHEN click_type = 'wbraid' THEN click_id END) AS wbraid,
           MAX(CASE WHEN click_type = 'fbclid'
                    THEN 'fb.1.' || CAST(CAST(FLOOR(EPOCH(clicked_at) * 1000) AS BIGINT) AS VARCHAR) || '.' || click_id
               END) AS fbc,
           MAX(CASE WHEN click_type = 'ttclid' THEN click_id END) AS ttclid
    FROM latest_clicks
    GROUP BY order_id
),
last_view AS (
    SELECT order_id, ip, user_agent, url, fbp
    FROM (SELECT base.order_id, views.ip, views.user_agent, views.url, views.fbp,
                 ROW_NUMBER() OVER (PARTITION BY base.order_id
                                    ORDER BY views.viewed_at DESC, views.source DESC, views.row_id DESC) AS recency
          FROM base
          JOIN cdp_staging.profile_page_views AS views
              ON views.profile_id = base.profile_id AND views.viewed_at <= base.occurred_at
             AND views.viewed_at >= base.occurred_at - (SELECT click_lookback_days FROM settings) * INTERVAL 1 DAY
         ) AS ranked
    WHERE recency = 1
),
contacts AS (
    SELECT profile_id,
           MAX(CASE WHEN id_type = 'email' AND recency = 1 THEN id_value END) AS email,
           MAX(CASE WHEN id_type = 'phone' AND recency = 1 THEN id_value END) AS phone
    FROM (SELECT profile_id, id_type, id_value,
                 ROW_NUMBER() OVER (PARTITION BY profile_id, id_type ORDER BY last_seen_at DESC, id_value) AS recency
          FROM cdp.profile_identities WHERE id_type IN ('email', 'phone')) AS ranked
    GROUP BY profile_id
)
SELECT 'cv_' || SUBSTR(MD5(base.order_id), 1, 24) AS conversion_id, base.profile_id, base.order_id,
       base.value, base.currency, base.occurred_at,
       click_columns.gclid, click_columns.gbraid, click_columns.wbraid, click_columns.fbc,
       COALESCE(browser.fbp, last_view.fbp) AS fbp, click_columns.ttclid,
       COALESCE(browser.ip, last_view.ip) AS ip, COALESCE(browser.user_agent, last_view.user_agent) AS user_agent,
       COALESCE(browser.page_url, last_view.url) AS page_url,
       COALESCE(contacts.email, order_emails.email) AS email, contacts.phone, base.sources
FROM base
LEFT JOIN click_columns ON click_columns.order_id = base.order_id
LEFT JOIN browser ON browser.order_id = base.order_id
LEFT JOIN last_view ON last_view.order_id = base.order_id
LEFT JOIN contacts ON contacts.profile_id = base.profile_id
LEFT JOIN order_emails ON order_emails.order_id = base.order_id
