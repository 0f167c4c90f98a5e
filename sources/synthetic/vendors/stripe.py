"""Stripe API objects: customers, checkout sessions, payment intents, charges, refunds,
subscriptions and invoices (API version 2025-09-30.clover shapes).

Stripe stores emails as typed and allows many customers per email, so this is where
case/space variants, work emails, household and placeholder emails show up. A charge
that pays a Shopify order names it in `metadata.order_id`, the join the models use.
"""

from __future__ import annotations

import random

from sources.synthetic.catalog import MEMBERSHIP, SHOP_CURRENCY
from sources.synthetic.clock import DAY
from sources.synthetic.randomness import keyed_rng, rng_token
from sources.synthetic.settings import WorldRates
from sources.synthetic.story import Purchase, Story, typed_email, typed_phone
from sources.synthetic.vendors import IdentifierSink, RecordSink

VENDOR = "stripe"
CURRENCY = SHOP_CURRENCY.lower()
MONTH = 30 * DAY


def _base(prefix: str, obj: str, rng: random.Random, created: float, length: int = 24) -> dict:
    return {"id": f"{prefix}_{rng_token(rng, length)}", "object": obj, "created": int(created), "livemode": False}


class _StripePerson:
    """Builds one person's Stripe objects; the customer is created at the first payment."""

    def __init__(self, seed: int, rates: WorldRates, story: Story, end: float, sink: RecordSink, ids: IdentifierSink):
        self.story, self.person, self.end, self.sink, self.ids = story, story.person, end, sink, ids
        self.rng = keyed_rng(seed, "stripe", self.person.index)
        self.rates = rates
        self.customer: dict | None = None

    def _write(self, kind: str, record: dict) -> dict:
        self.sink.write(VENDOR, kind, record, self.person.id, record["id"])
        return record

    def _email(self) -> str:
        person = self.person
        if person.placeholder and person.placeholder[0] == "email" and self.rng.random() < 0.5:
            return person.placeholder[1]
        email = person.second_email if person.second_email and self.rng.random() < 0.7 else person.email
        return typed_email(self.rng, email, self.rates.email_variant)

    def customer_for(self, at: float) -> dict:
        if self.customer is None:
            person = self.person
            name = f"{person.basics.first} {person.basics.last}"
            record = {**_base("cus", "customer", self.rng, at, 14), "email": self._email(), "name": name,
                      "phone": typed_phone(self.rng, person.phone) if person.phone else None,
                      "description": None, "address": {"country": person.country}, "balance": 0,
                      "currency": CURRENCY, "delinquent": False, "invoice_prefix": rng_token(self.rng, 8).upper(),
                      "preferred_locales": [person.locale.split("-")[0]], "metadata": {"user_id": person.user_id}}
            self.ids.record([("stripe_customer_id", record["id"]), ("email", record["email"]),
                             ("phone", record["phone"])])
            self.customer = self._write("customers", record)
        return self.customer

    def pay(self, amount: int, at: float, description: str, metadata: dict, refunded: bool) -> tuple[dict, dict]:
        customer = self.customer_for(at)
        intent = _base("pi", "payment_intent", self.rng, at)
        charge = _base("ch", "charge", self.rng, at)
        intent.update({"amount": amount, "amount_received": amount, "currency": CURRENCY,
                       "customer": customer["id"], "status": "succeeded", "latest_charge": charge["id"],
                       "payment_method": f"pm_{rng_token(self.rng, 24)}", "description": description,
                       "receipt_email": customer["email"], "metadata": metadata})
        charge.update({"amount": amount, "amount_captured": amount, "amount_refunded": amount if refunded else 0,
                       "currency": CURRENCY, "customer": customer["id"], "payment_intent": intent["id"],
                       "paid": True, "captured": True, "refunded": refunded, "status": "succeeded",
                       "billing_details": {"email": customer["email"], "name": customer["name"],
                                           "phone": customer["phone"], "address": {"country": self.person.country}},
                       "receipt_email": customer["email"], "description": description,
                       "balance_transaction": f"txn_{rng_token(self.rng, 24)}", "metadata": metadata})
        self._write("payment_intents", intent)
        self._write("charges", charge)
        self.ids.record([("stripe_customer_id", customer["id"]), ("email", customer["email"]),
                         ("phone", customer["phone"])], [f"order:{metadata['order_id']}" if "order_id" in metadata else ""])
        if refunded:
            refund = _base("re", "refund", self.rng, at + DAY)
            refund.update({"amount": amount, "charge": charge["id"], "payment_intent": intent["id"],
                           "currency": CURRENCY, "reason": "requested_by_customer", "status": "succeeded",
                           "metadata": metadata})
            self._write("refunds", refund)
        return intent, charge

    def checkout_session(self, purchase: Purchase, intent: dict | None, subscription: str | None) -> None:
        customer = self.customer
        session = {"id": purchase.order_id, "object": "checkout.session", "created": int(purchase.time - 120),
                   "livemode": False, "mode": "subscription" if subscription else "payment", "status": "complete",
                   "payment_status": "paid", "customer": customer["id"], "customer_email": customer["email"],
                   "customer_details": {"email": customer["email"], "name": customer["name"],
                                        "phone": customer["phone"], "address": {"country": self.person.country}},
                   "amount_subtotal": purchase.subtotal_cents, "amount_total": purchase.total_cents,
                   "currency": CURRENCY, "payment_intent": intent["id"] if intent else None,
                   "subscription": subscription, "client_reference_id": purchase.device.anonymous_id,
                   "expires_at": int(purchase.time - 120 + DAY),
                   "metadata": {"product": purchase.lines[0].product.handle}}
        self._write("checkout_sessions", session)
        self.ids.record([("stripe_customer_id", customer["id"]), ("email", customer["email"]),
                         ("phone", customer["phone"]), ("anonymous_id", session["client_reference_id"])],
                        [f"order:{session['id']}"])

    def subscribe(self, purchase: Purchase) -> None:
        customer = self.customer_for(purchase.time)
        subscription = _base("sub", "subscription", self.rng, purchase.time)
        self.checkout_session(purchase, None, subscription["id"])
        periods = []
        start = purchase.time
        cancel_at = start + MONTH * self.rng.randint(2, 8) if self.rng.random() < 0.3 else None
        while start < self.end and (cancel_at is None or start < cancel_at):
            periods.append(start)
            start += MONTH
        latest = None
        price = MEMBERSHIP.variants[0].price_cents
        for number, period_start in enumerate(periods, 1):
            intent, charge = self.pay(price, period_start, "Subscription update", {}, False)
            invoice = _base("in", "invoice", self.rng, period_start)
            invoice.update({"customer": customer["id"], "customer_email": customer["email"],
                            "customer_name": customer["name"], "number": f"{customer['invoice_prefix']}-{number:04d}",
                            "status": "paid", "amount_due": price, "amount_paid": price, "amount_remaining": 0,
                            "subtotal": price, "total": price, "currency": CURRENCY,
                            "period_start": int(period_start), "period_end": int(period_start + MONTH),
                            "parent": {"type": "subscription_details",
                                       "subscription_details": {"subscription": subscription["id"]}},
                            "status_transitions": {"paid_at": int(period_start) + 5},
                            "lines": {"object": "list", "data": [{
                                "id": f"il_{rng_token(self.rng, 24)}", "amount": price,
                                "description": "1 × Backstage Club Membership (at $9.00 / month)",
                                "period": {"start": int(period_start), "end": int(period_start + MONTH)}}]}})
            latest = self._write("invoices", invoice)["id"]
        last_period = periods[-1] if periods else purchase.time
        canceled = cancel_at is not None and cancel_at < self.end
        subscription.update({
            "customer": customer["id"], "status": "canceled" if canceled else "active",
            "start_date": int(purchase.time), "canceled_at": int(cancel_at) if canceled else None,
            "ended_at": int(cancel_at) if canceled else None, "cancel_at_period_end": False, "currency": CURRENCY,
            "latest_invoice": latest,
            "items": {"object": "list", "data": [{
                "id": f"si_{rng_token(self.rng, 14)}", "quantity": 1,
                "price": {"id": "price_backstage_monthly", "product": f"prod_{MEMBERSHIP.handle}",
                          "unit_amount": price, "currency": CURRENCY, "recurring": {"interval": "month"}},
                "current_period_start": int(last_period), "current_period_end": int(last_period + MONTH)}]},
            "metadata": {"user_id": self.person.user_id}})
        self._write("subscriptions", subscription)


def write_person(seed: int, rates: WorldRates, end: float, story: Story, sink: RecordSink, ids: IdentifierSink) -> None:
    builder = _StripePerson(seed, rates, story, end, sink, ids)
    for purchase in story.purchases:
        if not purchase.pay_with_stripe:
            continue
        if purchase.channel == "shop":
            builder.pay(purchase.total_cents, purchase.time, f"Shopify order #{1000 + purchase.order_number}",
                        {"order_id": purchase.order_id, "shopify_order_name": f"#{1000 + purchase.order_number}"},
                        purchase.refunded)
        elif purchase.channel == "workshop":
            intent, _ = builder.pay(purchase.total_cents, purchase.time, purchase.lines[0].product.title,
                                    {"checkout_session": purchase.order_id}, purchase.refunded)
            builder.checkout_session(purchase, intent, None)
        else:
            builder.subscribe(purchase)

