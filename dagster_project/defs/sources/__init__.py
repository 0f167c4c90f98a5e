"""The cloud sources (Shopify, Stripe, Mailchimp) as dagster-dlt assets, pulled hourly."""
