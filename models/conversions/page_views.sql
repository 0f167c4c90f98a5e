/* ---
description: >
  Every page call of every events source with its marketing parameters pulled out: UTM
  source/medium/campaign (context.campaign, else the URL) and the ad click ids in the landing
  URL (gclid, gbraid, wbraid, fbclid, ttclid). Generated over the tables and columns that exist.
schema: cdp_staging
materialized: runner
runner: models.conversions.raw:write_page_views
columns:
  source: the events source (warehouse schema)
  row_id: the page call's messageId
  viewed_at: when the page was viewed
  url: the page URL
  referrer: the referring URL
  ip: the browser's IP address
  user_agent: the browser's user agent
  fbp: Meta's _fbp browser cookie, when sent
  utm_source: campaign source (context.campaign.source or utm_source)
  utm_medium: campaign medium (context.campaign.medium or utm_medium)
  utm_campaign: campaign name (context.campaign.name or utm_campaign)
  gclid: Google Ads click id from the URL
  gbraid: Google Ads app-to-web click id (iOS) from the URL
  wbraid: Google Ads web-to-app click id (iOS) from the URL
  fbclid: Meta click id from the URL
  ttclid: TikTok click id from the URL
  refreshed_at: when a build wrote the row (profile_page_views joins the newer rows to their person)
--- */
