/* ---
description: >
  Order traits per buyer, from cdp.conversions (one row per real purchase, de-duplicated across
  Shopify, Stripe and Order Completed events; cancelled orders left out), with RFM scores: each
  of recency, frequency and monetary is a quintile 1-5 among all buyers (5 best; equal values
  share a score), and the segment follows the usual recency x frequency grid.
schema: cdp_staging
columns:
  profile_id: the buyer
  order_count: number of purchases
  lifetime_revenue: sum of purchase values (amounts in their own currencies, not converted)
  average_order_value: lifetime_revenue / order_count
  first_order_at: time of the first purchase
  last_order_at: time of the latest purchase
  days_since_last_order: whole days from the latest purchase to the build's as_of
  rfm_recency: 5 for the most recent buyers, 1 for the longest ago
  rfm_frequency: 5 for the buyers with the most purchases
  rfm_monetary: 5 for the buyers with the highest lifetime revenue
  rfm_segment: Champions, Loyal, Potential Loyalists, New Customers, Promising, Need Attention, About to Sleep, Can't Lose, At Risk or Hibernating
--- */
WITH buyers AS (
    SELECT profile_id, COUNT(*) AS order_count, SUM(COALESCE(value, 0)) AS lifetime_revenue,
           MIN(occurred_at) AS first_order_at, MAX(occurred_at) AS last_order_at
    FROM cdp.conversions
    WHERE profile_id IS NOT NULL AND occurred_at <= (SELECT as_of FROM cdp_staging.build_context)
    GROUP BY profile_id
),
scored AS (
    SELECT buyers.*,
           CAST(CEIL(5 * CUME_DIST() OVER (ORDER BY last_order_at)) AS INTEGER) AS rfm_recency,
           CAST(CEIL(5 * CUME_DIST() OVER (ORDER BY order_count)) AS INTEGER) AS rfm_frequency,
           CAST(CEIL(5 * CUME_DIST() OVER (ORDER BY lifetime_revenue)) AS INTEGER) AS rfm_monetary
    FROM buyers
)
SELECT profile_id, order_count, lifetime_revenue,
       lifetime_revenue / order_count AS average_order_value, first_order_at, last_order_at,
       CAST(FLOOR((EPOCH((SELECT as_of FROM cdp_staging.build_context)) - EPOCH(last_order_at)) / 86400) AS INTEGER)
           AS days_since_last_order,
       rfm_recency, rfm_frequency, rfm_monetary,
       CASE
           WHEN rfm_recency = 5 AND rfm_frequency >= 4 THEN 'Champions'
           WHEN rfm_recency >= 3 AND rfm_frequency >= 4 THEN 'Loyal'
           WHEN rfm_recency >= 4 AND rfm_frequency >= 2 THEN 'Potential Loyalists'
           WHEN rfm_recency = 5 AND rfm_frequency = 1 THEN 'New Customers'
           WHEN rfm_recency = 4 AND rfm_frequency = 1 THEN 'Promising'
           WHEN rfm_recency = 3 AND rfm_frequency = 3 THEN 'Need Attention'
           WHEN rfm_recency = 3 THEN 'About to Sleep'
           WHEN rfm_frequency = 5 THEN 'Can''t Lose'
           WHEN rfm_frequency >= 3 THEN 'At Risk'
           ELSE 'Hibernating'
       END AS rfm_segment
FROM scored
