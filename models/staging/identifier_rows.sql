/* ---
description: >
  One row per raw row that can carry identifiers: Segment calls (identifies, tracks, pages,
  screens, groups, aliases, Order Completed, Checkout Started) of every events source, Shopify
  customers, orders and abandoned checkouts, Stripe customers, charges and checkout sessions,
  Mailchimp members. Generated over the tables and columns that exist.
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
  checkout_id: the checkout a row is about (Checkout Started / Order Completed checkout_id, Shopify abandoned checkout id)
  shopify_customer_id: Shopify's numeric customer id
  stripe_customer_id: Stripe's customer id (cus_...)
  mailchimp_member_id: Mailchimp's member id (MD5 of the lowercase email)
  mailchimp_unique_email_id: Mailchimp's unique_email_id of a list member, or the mc_eid a campaign link put in the page's query string
  country: the country the row gives (trait, address), used as the region of local phone numbers
  refreshed_at: when a build last wrote this row (the later identity staging models redo the rows written since they last ran)
--- */
