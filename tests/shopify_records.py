"""Small Shopify records in the GraphQL Admin API shape (as in sources/synthetic/FORMAT.md),
built by the Shopify tests so they never depend on the generator's randomness."""

from __future__ import annotations

from sources.shopify.emulator_data import money_bag


def customer(n: int, updated: str = "2025-03-01T10:00:00Z", email: str | None = None) -> dict:
    return {
        "id": f"gid://shopify/Customer/{n}", "legacyResourceId": str(n), "firstName": f"First{n}",
        "lastName": f"Last{n}", "displayName": f"First{n} Last{n}", "email": email or f"person{n}@example.com",
        "phone": f"+1415555{n:04d}", "verifiedEmail": True, "state": "ENABLED", "tags": ["vip"] if n % 2 else [],
        "numberOfOrders": str(n % 3), "amountSpent": {"amount": f"{n * 10}.50", "currencyCode": "USD"},
        "createdAt": "2025-01-01T00:00:00Z", "updatedAt": updated,
        "defaultAddress": {"address1": f"{n} Main St", "city": "Springfield", "zip": "12345", "countryCodeV2": "US"},
        "emailMarketingConsent": {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN",
                                  "consentUpdatedAt": "2025-01-01T00:00:00Z"},
        "smsMarketingConsent": None,
    }


def order(n: int, customer_id: int | None, items: int = 2, updated: str = "2025-03-01T10:00:00Z",
          cancelled_at: str | None = None) -> dict:
    line_items = [{
        "id": f"gid://shopify/LineItem/{n * 1000 + i}", "name": f"Ticket {i}", "sku": f"SKU-{i}", "quantity": i + 1,
        "variant": {"id": f"gid://shopify/ProductVariant/{500 + i}", "legacyResourceId": str(500 + i)},
        "product": {"id": f"gid://shopify/Product/{50 + i}", "legacyResourceId": str(50 + i)},
        "originalUnitPriceSet": money_bag(f"{10 + i}.00"),
    } for i in range(items)]
    total = sum((10 + i) * (i + 1) for i in range(items))
    return {
        "id": f"gid://shopify/Order/{n}", "legacyResourceId": str(n), "name": f"#{1000 + n}",
        "email": f"person{customer_id}@example.com" if customer_id else "guest@example.com", "phone": None,
        "createdAt": "2025-02-01T00:00:00Z", "processedAt": "2025-02-01T00:00:00Z", "updatedAt": updated,
        "cancelledAt": cancelled_at, "cancelReason": "CUSTOMER" if cancelled_at else None,
        "currencyCode": "USD", "displayFinancialStatus": "PAID", "displayFulfillmentStatus": "FULFILLED",
        "sourceName": "web",
        "customer": {"id": f"gid://shopify/Customer/{customer_id}", "legacyResourceId": str(customer_id)}
        if customer_id else None,
        "subtotalPriceSet": money_bag(f"{total}.00"), "totalDiscountsSet": money_bag("0.00"),
        "totalTaxSet": money_bag("1.25"), "totalPriceSet": money_bag(f"{total}.00"),
        "totalRefundedSet": money_bag("0.00"), "discountCodes": ["WELCOME"] if n % 2 else [],
        "paymentGatewayNames": ["stripe"], "tags": [], "lineItems": {"nodes": line_items},
        "discountApplications": [{"__typename": "DiscountCodeApplication", "allocationMethod": "ACROSS",
                                  "targetSelection": "ALL", "targetType": "LINE_ITEM",
                                  "value": {"percentage": 10.0}, "code": "WELCOME"}] if n % 2 else [],
        "refunds": [{"id": f"gid://shopify/Refund/{n}", "legacyResourceId": str(n), "createdAt": updated,
                     "note": "damaged", "totalRefundedSet": money_bag("5.00")}] if n % 5 == 0 else [],
    }


def product(n: int, variants: int = 2, updated: str = "2025-03-01T10:00:00Z") -> dict:
    return {
        "id": f"gid://shopify/Product/{n}", "legacyResourceId": str(n), "title": f"Product {n}",
        "handle": f"product-{n}", "productType": "Ticket", "vendor": "Headwater", "status": "ACTIVE", "tags": [],
        "createdAt": "2025-01-01T00:00:00Z", "updatedAt": updated,
        "variants": {"nodes": [{"id": f"gid://shopify/ProductVariant/{n * 100 + i}",
                                "legacyResourceId": str(n * 100 + i), "title": f"Size {i}", "sku": f"P{n}-{i}",
                                "price": f"{20 + i}.00", "inventoryQuantity": 5} for i in range(variants)]},
    }


def checkout(n: int, customer_id: int | None, updated: str = "2025-03-01T10:00:00Z") -> dict:
    return {
        "id": f"gid://shopify/AbandonedCheckout/{n}", "legacyResourceId": str(n), "name": f"#C{n}",
        "abandonedCheckoutUrl": f"https://shop.example/checkouts/{n}/recover", "createdAt": "2025-02-01T00:00:00Z",
        "updatedAt": updated, "completedAt": None,
        "customer": {"id": f"gid://shopify/Customer/{customer_id}", "legacyResourceId": str(customer_id)}
        if customer_id else None,
        "discountCodes": [],
        "lineItems": {"nodes": [{"id": f"gid://shopify/AbandonedCheckoutLineItem/{n * 10}", "title": "Ticket",
                                 "quantity": 1, "variant": {"id": "gid://shopify/ProductVariant/501",
                                                            "legacyResourceId": "501"},
                                 "originalUnitPriceSet": money_bag("12.00")}]},
        "subtotalPriceSet": money_bag("12.00"), "totalPriceSet": money_bag("12.00"),
    }


def shop(customers: int = 5, orders: int = 6, products: int = 3, checkouts: int = 2, items: int = 2) -> dict:
    """A small shop; order n belongs to customer (n % customers) + 1; timestamps spread over minutes."""
    stamp = lambda n: f"2025-03-01T10:{n // 60:02d}:{n % 60:02d}Z"  # noqa: E731
    return {
        "customers": [customer(n, stamp(n)) for n in range(1, customers + 1)],
        "orders": [order(n, (n % customers) + 1, items, stamp(n)) for n in range(1, orders + 1)],
        "products": [product(n, updated=stamp(n)) for n in range(1, products + 1)],
        "abandonedCheckouts": [checkout(n, n, stamp(n)) for n in range(1, checkouts + 1)],
    }
