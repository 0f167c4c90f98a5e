/* ---
description: >
  Every report of a purchase in any source, one row each, before de-duplication: Shopify
  orders (and their cancellations), paid Stripe charges and Checkout Sessions, and `Order
  Completed` / `Order Cancelled` events from apps and vendor webhooks. Generated over the
  tables and columns that exist.
schema: cdp_staging
materialized: runner
runner: models.conversions.raw:write_purchase_observations
columns:
  source: the source (warehouse schema) of the raw row
  source_table: the raw table (orders, charges, checkout_sessions, order_completed, order_cancelled)
  identity_table: the table cdp_staging.identifiers knows the row by (tracks for events)
  row_id: the raw row's id
  order_id: the purchase it reports (Shopify order id, Stripe metadata.order_id or Checkout Session id, else charge id)
  occurred_at: when it happened (for a cancellation, when it was cancelled)
  value: the amount paid, in currency units (Stripe minor units converted)
  currency: ISO 4217 code, upper case
  precedence: whose figures win, 1 strongest (Shopify order, Stripe, events; 9 for cancellations)
  cancelled: true when the row says the order was cancelled
  ip: the buyer's IP address (browser events only)
  user_agent: the buyer's browser user agent (browser events only)
  page_url: the page the purchase was made on (browser events only)
  fbp: Meta's _fbp browser cookie, when the event carried it
--- */
