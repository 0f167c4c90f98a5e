"""Stripe constants: the objects we load, their list paths and the events that change them.

Why per-object event types: `/v1/events` is filtered with `types[]` (at most 20 exact
names) so each table reads only its own changes; a `customer.*` wildcard would also match
`customer.subscription.*`, which belong to subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_LIMIT = 100                    # Stripe's maximum `limit` for list endpoints
EVENT_RETENTION_SECONDS = 30 * 86400  # Stripe keeps events for 30 days
QUIET_ADVANCE_SECONDS = 3600        # with no events, move the cursor to an hour ago
DEFAULT_START_DATE = "2015-01-01"


@dataclass(frozen=True)
class StripeObject:
    table: str
    path: str
    object_type: str               # the `object` field of the resource, e.g. "checkout.session"
    event_types: tuple[str, ...]
    list_params: tuple[tuple[str, str], ...] = ()


OBJECTS: tuple[StripeObject, ...] = (
    StripeObject("customers", "/v1/customers", "customer",
                 ("customer.created", "customer.updated", "customer.deleted")),
    StripeObject("charges", "/v1/charges", "charge",
                 ("charge.succeeded", "charge.failed", "charge.pending", "charge.captured",
                  "charge.refunded", "charge.updated", "charge.expired")),
    StripeObject("payment_intents", "/v1/payment_intents", "payment_intent",
                 ("payment_intent.created", "payment_intent.succeeded", "payment_intent.canceled",
                  "payment_intent.processing", "payment_intent.payment_failed",
                  "payment_intent.requires_action", "payment_intent.amount_capturable_updated",
                  "payment_intent.partially_funded")),
    StripeObject("invoices", "/v1/invoices", "invoice",
                 ("invoice.created", "invoice.updated", "invoice.deleted", "invoice.finalized",
                  "invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded",
                  "invoice.voided", "invoice.marked_uncollectible", "invoice.sent")),
    # the list endpoint hides canceled subscriptions unless asked for status=all
    StripeObject("subscriptions", "/v1/subscriptions", "subscription",
                 ("customer.subscription.created", "customer.subscription.updated",
                  "customer.subscription.deleted", "customer.subscription.paused",
                  "customer.subscription.resumed"),
                 (("status", "all"),)),
    StripeObject("refunds", "/v1/refunds", "refund",
                 ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")),
    StripeObject("checkout_sessions", "/v1/checkout/sessions", "checkout.session",
                 ("checkout.session.completed", "checkout.session.expired",
                  "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed")),
)

OBJECTS_BY_TABLE = {o.table: o for o in OBJECTS}
OBJECTS_BY_PATH = {o.path: o for o in OBJECTS}
