/* ---
description: >
  One row per person: primary email and phone, names, first/last seen, consent per category
  (latest signal from identify traits, Segment context.consent, Mailchimp status or Shopify
  marketing consent; traits.consent_default when none), order traits with RFM scores and
  segment, email engagement, then one column per identify trait (latest non-null value across
  sources, by traits.source_precedence, typed as sent) and one column per computed trait of
  cdp.profile_traits. Columns from profile_id to email_clicks_30d are always present. People
  suppressed or deleted by a privacy request are left out (cdp_staging.suppressed_profiles).
materialized: runner
runner: models.profiles.assemble:write_profiles
depends_on: [cdp_staging.profile_core, cdp_staging.latest_traits, cdp.profile_traits, cdp_staging.suppressed_profiles]
columns:
  profile_id: the person's stable id (as in cdp.profile_identities)
  email: primary email, per traits.primary_identifier (most recently seen, or first seen)
  phone: primary phone in E.164, chosen like email
  first_name: latest first name (by traits.source_precedence, then latest)
  last_name: latest last name, chosen like first_name
  first_seen_at: first time any identifier of the person was seen
  last_seen_at: last time any identifier of the person was seen
  consent_analytics: analytics consent now (latest signal wins; history in cdp.consent_history)
  consent_advertising: advertising consent now
  consent_email: email marketing consent now
  consent_sms: SMS marketing consent now
  order_count: number of purchases in cdp.conversions (0 when none)
  lifetime_revenue: sum of purchase values (0 when none; currencies not converted)
  average_order_value: lifetime_revenue / order_count (empty when no purchase)
  first_order_at: time of the first purchase
  last_order_at: time of the latest purchase
  days_since_last_order: whole days from the latest purchase to the build's as_of
  rfm_recency: RFM recency quintile 1-5 among buyers (5 = most recent)
  rfm_frequency: RFM frequency quintile 1-5 among buyers (5 = most purchases)
  rfm_monetary: RFM monetary quintile 1-5 among buyers (5 = highest revenue)
  rfm_segment: RFM segment (Champions, Loyal, Potential Loyalists, New Customers, Promising, Need Attention, About to Sleep, Can't Lose, At Risk, Hibernating)
  email_opens_30d: emails opened in the 30 days before the build's as_of
  email_clicks_30d: email links clicked in the 30 days before the build's as_of
  favourite_product_category: the product category the person added to cart most often
--- */
