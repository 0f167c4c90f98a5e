/* ---
description: >
  Page views up to the build's as_of with the profile that made them (through the page
  call's row in cdp_staging.row_profiles). What click ids and attribution read. Only the page
  views whose person, content or side of as_of changed are joined again each build (models/rejoin.py).
schema: cdp_staging
materialized: runner
runner: models.conversions.raw:write_profile_page_views
columns:
  profile_id: the person who viewed the page
  source: the events source
  row_id: the page call's messageId
  viewed_at: when the page was viewed
  url: the page URL
  referrer: the referring URL
  ip: the browser's IP address
  user_agent: the browser's user agent
  fbp: Meta's _fbp browser cookie, when sent
  utm_source: campaign source
  utm_medium: campaign medium
  utm_campaign: campaign name
  gclid: Google Ads click id
  gbraid: Google Ads iOS app-to-web click id
  wbraid: Google Ads iOS web-to-app click id
  fbclid: Meta click id
  ttclid: TikTok click id
--- */
SELECT owners.profile_id, views.source, views.row_id, views.viewed_at, views.url, views.referrer, views.ip,
       views.user_agent, views.fbp, views.utm_source, views.utm_medium, views.utm_campaign, views.gclid,
       views.gbraid, views.wbraid, views.fbclid, views.ttclid
FROM cdp_staging.page_views AS views
JOIN cdp_staging.row_profiles AS owners
    ON owners.source = views.source AND owners.source_table = 'pages' AND owners.row_id = views.row_id
WHERE views.viewed_at <= (SELECT as_of FROM cdp_staging.conversion_settings)
