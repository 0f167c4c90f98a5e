/* ---
description: >
  One row per raw row that can carry identifiers: Segment calls (identifies, tracks, pages,
  screens, groups, aliases) of every events source, Shopify customers and orders, Stripe
  customers, charges and checkout sessions, Mailchimp members. Generated over the tables and
  columns that exist.
materialized: runner
runner: models.staging.raw_identifiers:write_identifier_rows
columns:
  source: the source (warehouse schema) the row came from
  source_table: the raw table of the row (identifies, tracks, customers, ...)
  row_id: the row's id (Segment messageId, vendor object id)
  seen_at: when the row happened (event timestamp, vendor creation time)
  anonymous_id: the device/browser id, raw
  user_id: the app's user id, raw
  previous_id: an alias call's previousId, raw
  email: email from traits or context.traits, raw
  phone: phone from traits or context.traits, raw
  order_id: the order a row is about (Order Completed order_id, Shopify order id, Stripe charge metadata.order_id, Checkout Session id)
  shopify_customer_id: Shopify's numeric customer id
  stripe_customer_id: Stripe's customer id (cus_...)
  mailchimp_member_id: Mailchimp's member id (MD5 of the lowercase email)
  country: the country the row gives (trait, address), used as the region of local phone numbers
--- */
