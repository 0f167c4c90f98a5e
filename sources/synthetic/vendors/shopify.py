"""Shopify GraphQL Admin API nodes: products, customers, orders, abandoned checkouts.

Shopify keeps one customer per email and lowercases it, so the messiness lives in who
has an account: guests and household partners order without one.
"""

from __future__ import annotations

from sources.synthetic.catalog import CATALOG_CREATED, SHOP_CURRENCY, SHOP_PRODUCTS, Product
from sources.synthetic.clock import DAY, iso_seconds
from sources.synthetic.people import COUNTRIES, Person
from sources.synthetic.randomness import keyed_rng, rng_hex
from sources.synthetic.story import SHOPIFY_CHECKOUT_ID_BASE, Line, Story
from sources.synthetic.vendors import IdentifierSink, RecordSink

CUSTOMER_ID_BASE = 7_400_000_000_000
LINE_ITEM_ID_BASE = 14_800_000_000_000
REFUND_ID_BASE = 980_000_000_000
SHOP_DOMAIN = "headwater-demo.myshopify.com"
VENDOR = "shopify"


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def node_ref(kind: str, number: int | str) -> dict:
    return {"id": gid(kind, number), "legacyResourceId": str(number)}


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def money_bag(cents: int) -> dict:
    return {"shopMoney": {"amount": money(cents), "currencyCode": SHOP_CURRENCY}}


def customer_legacy_id(person: Person) -> int:
    return CUSTOMER_ID_BASE + person.index


def has_account(person: Person) -> bool:
    return person.identifies and not person.guest


def product_node(product: Product) -> dict:
    created = iso_seconds(CATALOG_CREATED + product.legacy_id % 1000 * DAY)
    return {
        **node_ref("Product", product.legacy_id), "title": product.title, "handle": product.handle,
        "productType": product.product_type, "vendor": "Headwater Live", "status": "ACTIVE",
        "tags": [product.category], "createdAt": created, "updatedAt": created,
        "variants": {"nodes": [{**node_ref("ProductVariant", v.legacy_id), "title": v.title, "sku": v.sku,
                                "price": money(v.price_cents), "inventoryQuantity": 500} for v in product.variants]},
    }


def write_products(sink: RecordSink) -> None:
    for product in SHOP_PRODUCTS:
        sink.write(VENDOR, "products", product_node(product), None)


def _line_items(lines: list[Line], first_id: int, with_refs: bool) -> dict:
    nodes = []
    for offset, line in enumerate(lines):
        node = {"id": gid("LineItem" if with_refs else "AbandonedCheckoutLineItem", first_id + offset)}
        if with_refs:
            node.update({"name": f"{line.product.title} - {line.variant.title}", "sku": line.variant.sku,
                         "quantity": line.quantity, "variant": node_ref("ProductVariant", line.variant.legacy_id),
                         "product": node_ref("Product", line.product.legacy_id)})
        else:
            node.update({"title": line.product.title, "quantity": line.quantity,
                         "variant": node_ref("ProductVariant", line.variant.legacy_id)})
        node["originalUnitPriceSet"] = money_bag(line.variant.price_cents)
        nodes.append(node)
    return {"nodes": nodes}


def _consent(state: bool, at: float, sms: bool = False) -> dict:
    consent = {"marketingState": "SUBSCRIBED" if state else "NOT_SUBSCRIBED",
               "marketingOptInLevel": "SINGLE_OPT_IN" if state else None,
               "consentUpdatedAt": iso_seconds(at) if state else None}
    if sms:
        consent["consentCollectedFrom"] = "SHOPIFY" if state else None
    return consent


def write_person(seed: int, story: Story, sink: RecordSink, ids: IdentifierSink) -> None:
    person = story.person
    rng = keyed_rng(seed, "shopify", person.index)
    account = has_account(person) and story.signup_time is not None
    customer_ref = node_ref("Customer", customer_legacy_id(person)) if account else None
    spent, orders = 0, 0
    last_update = story.signup_time or story.first_seen
    for purchase in story.purchases:
        if purchase.channel != "shop":
            continue
        orders += 1
        refunded = purchase.total_cents if purchase.refunded else 0
        spent += purchase.total_cents - refunded
        legacy = int(purchase.order_id)
        updated = purchase.time + (DAY if purchase.refunded else 60)
        last_update = max(last_update, updated)
        refunds = []
        if purchase.refunded:
            refund_id = REFUND_ID_BASE + purchase.order_number
            refunds.append({**node_ref("Refund", refund_id), "createdAt": iso_seconds(purchase.time + DAY),
                            "note": "Customer cannot attend", "totalRefundedSet": money_bag(refunded)})
        order = {
            **node_ref("Order", legacy), "name": f"#{1000 + purchase.order_number}",
            "email": person.email, "phone": person.phone,
            "createdAt": iso_seconds(purchase.time), "processedAt": iso_seconds(purchase.time),
            "updatedAt": iso_seconds(updated), "cancelledAt": None, "currencyCode": SHOP_CURRENCY,
            "displayFinancialStatus": "REFUNDED" if purchase.refunded else "PAID",
            "displayFulfillmentStatus": "FULFILLED",
            "sourceName": "web" if purchase.device.platform == "web" else purchase.device.platform.replace("ios", "iphone"),
            "customer": customer_ref,
            "subtotalPriceSet": money_bag(purchase.subtotal_cents),
            "totalDiscountsSet": money_bag(purchase.discount_cents),
            "totalTaxSet": money_bag(0),
            "totalPriceSet": money_bag(purchase.total_cents),
            "totalRefundedSet": money_bag(refunded),
            "discountCodes": [purchase.discount_code] if purchase.discount_code else [],
            "paymentGatewayNames": ["stripe"] if purchase.pay_with_stripe else ["shopify_payments"],
            "lineItems": _line_items(purchase.lines, LINE_ITEM_ID_BASE + purchase.order_number * 10, True),
            "refunds": refunds,
            "billingAddress": {"countryCodeV2": person.country},
            "tags": [] if account else ["guest"],
        }
        ids.record([("email", order["email"]), ("phone", order["phone"]),
                    ("shopify_customer_id", customer_ref["legacyResourceId"] if customer_ref else None)],
                   [f"order:{order['legacyResourceId']}"])
        sink.write(VENDOR, "orders", order, person.id, order["legacyResourceId"])
    if not account:
        return
    for cart in story.abandoned:
        legacy = SHOPIFY_CHECKOUT_ID_BASE + cart.checkout_number
        subtotal = sum(line.cents for line in cart.lines)
        checkout = {
            **node_ref("AbandonedCheckout", legacy), "name": f"#{cart.checkout_number}",
            "abandonedCheckoutUrl": f"https://{SHOP_DOMAIN}/checkouts/{rng_hex(rng, 32)}/recover",
            "createdAt": iso_seconds(cart.time), "updatedAt": iso_seconds(cart.time + 300), "completedAt": None,
            "customer": customer_ref, "discountCodes": [],
            "lineItems": _line_items(cart.lines, LINE_ITEM_ID_BASE + 9_000_000_000 + cart.checkout_number * 10, False),
            "subtotalPriceSet": money_bag(subtotal), "totalPriceSet": money_bag(subtotal),
        }
        last_update = max(last_update, cart.time + 300)
        ids.record([("shopify_customer_id", customer_ref["legacyResourceId"])], [f"checkout:{legacy}"])
        sink.write(VENDOR, "abandoned_checkouts", checkout, person.id, checkout["legacyResourceId"])
    # Shopify files a checkout's contact under the customer with that email, creating it then
    created = min([story.signup_time] + [cart.time for cart in story.abandoned])
    customer = {
        **customer_ref, "firstName": person.basics.first, "lastName": person.basics.last,
        "displayName": f"{person.basics.first} {person.basics.last}", "email": person.email, "phone": person.phone,
        "verifiedEmail": True, "state": "ENABLED", "tags": ["b2b"] if person.b2b_org else [],
        "numberOfOrders": str(orders), "amountSpent": {"amount": money(spent), "currencyCode": SHOP_CURRENCY},
        "createdAt": iso_seconds(created), "updatedAt": iso_seconds(last_update),
        "defaultAddress": {"address1": f"{person.index % 400 + 1} Main Street",
                           "city": _city(person), "zip": f"{10000 + person.index % 89999}",
                           "countryCodeV2": person.country},
        "emailMarketingConsent": _consent(person.consent["email"], created),
        "smsMarketingConsent": _consent(person.consent["sms"], created, sms=True) if person.phone else None,
    }
    ids.record([("shopify_customer_id", customer["legacyResourceId"]), ("email", customer["email"]),
                ("phone", customer["phone"])])
    sink.write(VENDOR, "customers", customer, person.id, customer["legacyResourceId"])


def _city(person: Person) -> str:
    cities = COUNTRIES[person.country][3]
    return cities[person.index % len(cities)]
