/* ---
description: >
  Every ad click id a person arrived with, one row per (page view, click id type): the
  long form of the click id columns of cdp_staging.profile_page_views.
schema: cdp_staging
columns:
  profile_id: the person who clicked
  source: the events source of the landing page
  row_id: the landing page call's messageId
  clicked_at: when the landing page was viewed (Meta's fbc creation time)
  click_type: gclid, gbraid, wbraid, fbclid or ttclid
  click_id: the click id as it appeared in the URL
--- */
WITH typed AS (
    SELECT views.profile_id, views.source, views.row_id, views.viewed_at AS clicked_at, kinds.click_type,
           CASE kinds.click_type
               WHEN 'gclid' THEN views.gclid
               WHEN 'gbraid' THEN views.gbraid
               WHEN 'wbraid' THEN views.wbraid
               WHEN 'fbclid' THEN views.fbclid
               WHEN 'ttclid' THEN views.ttclid
           END AS click_id
    FROM cdp_staging.profile_page_views AS views
    CROSS JOIN (VALUES ('gclid'), ('gbraid'), ('wbraid'), ('fbclid'), ('ttclid')) AS kinds(click_type)
)
SELECT profile_id, source, row_id, clicked_at, click_type, click_id FROM typed WHERE click_id IS NOT NULL
