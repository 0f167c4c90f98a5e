"""What Headwater asks Shopify for, per resource, and the warehouse row it makes of each node.

One `ShopifyResource` per table declares its node selection once; the paged query, the
nested follow-up query, the bulk query and the count query are all derived from it, so the
paged path and the bulk path can never load different columns. Rows use Shopify's numeric
id (`legacyResourceId`) as `id`, the id webhooks carry, so API rows and webhook events meet
on one key; the GraphQL id is kept as `admin_graphql_api_id`, as in Shopify's REST shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sources.shopify.settings import (ABANDONED_CHECKOUTS_PAGE, CUSTOMERS_PAGE, NESTED_FOLLOW_UP_PAGE,
                                      NESTED_PAGE, ORDERS_PAGE, PRODUCT_VARIANTS_PAGE, PRODUCTS_PAGE,
                                      REFUNDS_PER_ORDER)

MONEY = "shopMoney { amount currencyCode }"


@dataclass(frozen=True)
class Nested:
    """A child connection fetched with its parent (first page) and completed afterwards."""

    field: str
    fields: str
    typenames: tuple[str, ...]  # `__typename`s of its nodes: how bulk JSONL children find their field
    page: int = NESTED_PAGE


@dataclass(frozen=True)
class ShopifyResource:
    table: str
    connection: str
    node_type: str
    fields: str
    to_row: Callable[[dict], dict]
    page: int
    nested: tuple[Nested, ...] = ()
    columns: dict[str, str] | None = None          # column -> dlt data type, so empty columns still exist
    child_columns: dict[str, dict[str, str]] | None = None  # child table suffix -> its columns

    def column_hints(self) -> dict[str, dict]:
        hints = {name: {"data_type": kind} for name, kind in (self.columns or {}).items()}
        hints.setdefault("updated_at", {"data_type": "timestamp"})["dedup_sort"] = "desc"
        return hints

    def nested_hints(self) -> dict[str, dict]:
        return {child: {"columns": {name: {"name": name, "data_type": kind} for name, kind in columns.items()}}
                for child, columns in (self.child_columns or {}).items()}

    def _nested_paged(self) -> str:
        return " ".join(f"{n.field}(first: {n.page}) {{ nodes {{ {n.fields} }} pageInfo {{ hasNextPage endCursor }} }}"
                        for n in self.nested)

    def page_query(self) -> str:
        return (f"query {self.node_type}Page($after: String, $query: String) {{ "
                f"{self.connection}(first: {self.page}, after: $after, query: $query, sortKey: UPDATED_AT) {{ "
                f"nodes {{ {self.fields} {self._nested_paged()} }} pageInfo {{ hasNextPage endCursor }} }} }}")

    def follow_up_query(self, nested: Nested) -> str:
        return (f"query {self.node_type}{nested.field.title()}($id: ID!, $after: String) {{ node(id: $id) {{ "
                f"... on {self.node_type} {{ {nested.field}(first: {NESTED_FOLLOW_UP_PAGE}, after: $after) {{ "
                f"nodes {{ {nested.fields} }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}")

    def bulk_query(self, search: str | None) -> str:
        arguments = f"(query: {json.dumps(search)}, sortKey: UPDATED_AT)" if search else "(sortKey: UPDATED_AT)"
        nested = " ".join(f"{n.field} {{ edges {{ node {{ {n.fields} }} }} }}" for n in self.nested)
        return f"{{ {self.connection}{arguments} {{ edges {{ node {{ {self.fields} {nested} }} }} }} }}"

    def count_query(self) -> str:
        return (f"query {self.node_type}Count($query: String, $limit: Int) {{ "
                f"{self.connection}Count(query: $query, limit: $limit) {{ count precision }} }}")


def numeric_id(value: str | None) -> int | None:
    """`gid://shopify/Order/123` -> 123."""
    return int(value.rsplit("/", 1)[-1].split("?")[0]) if value else None


def _legacy(node: dict | None) -> int | None:
    if not node:
        return None
    return int(node["legacyResourceId"]) if node.get("legacyResourceId") else numeric_id(node.get("id"))


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _money(bag: dict | None) -> Decimal | None:
    return Decimal(bag["shopMoney"]["amount"]) if bag else None


def _nodes(connection: Any) -> list[dict]:
    if isinstance(connection, dict):
        return connection.get("nodes") or []
    return connection or []


def _joined(values: list[str] | None) -> str:
    """Shopify's REST shape: tags and codes as one comma-separated string."""
    return ", ".join(values or [])


def _ids(node: dict) -> dict:
    return {"id": _legacy(node), "admin_graphql_api_id": node["id"]}


def customer_row(node: dict) -> dict:
    address = node.get("defaultAddress") or {}
    email_consent = node.get("emailMarketingConsent") or {}
    sms_consent = node.get("smsMarketingConsent") or {}
    spent = node.get("amountSpent") or {}
    return {
        **_ids(node), "email": node.get("email"), "phone": node.get("phone"),
        "first_name": node.get("firstName"), "last_name": node.get("lastName"),
        "display_name": node.get("displayName"), "state": node.get("state"),
        "verified_email": node.get("verifiedEmail"), "tags": _joined(node.get("tags")), "note": node.get("note"),
        "orders_count": int(node["numberOfOrders"]) if node.get("numberOfOrders") is not None else None,
        "amount_spent": Decimal(spent["amount"]) if spent.get("amount") is not None else None,
        "currency": spent.get("currencyCode"),
        "email_marketing_state": email_consent.get("marketingState"),
        "email_marketing_opt_in_level": email_consent.get("marketingOptInLevel"),
        "email_consent_updated_at": _time(email_consent.get("consentUpdatedAt")),
        "sms_marketing_state": sms_consent.get("marketingState"),
        "sms_consent_updated_at": _time(sms_consent.get("consentUpdatedAt")),
        "address1": address.get("address1"), "city": address.get("city"), "province_code": address.get("provinceCode"),
        "zip": address.get("zip"), "country_code": address.get("countryCodeV2"),
        "created_at": _time(node.get("createdAt")), "updated_at": _time(node.get("updatedAt")),
    }


def _line_item_row(item: dict) -> dict:
    return {
        "id": numeric_id(item["id"]), "name": item.get("name") or item.get("title"), "sku": item.get("sku"),
        "quantity": item.get("quantity"), "variant_id": _legacy(item.get("variant")),
        "product_id": _legacy(item.get("product")), "price": _money(item.get("originalUnitPriceSet")),
    }


def _discount_row(application: dict) -> dict:
    value = application.get("value") or {}
    return {
        "type": application.get("__typename"), "code": application.get("code"), "title": application.get("title"),
        "allocation_method": application.get("allocationMethod"), "target_type": application.get("targetType"),
        "value_amount": Decimal(value["amount"]) if value.get("amount") is not None else None,
        "value_percentage": value.get("percentage"),
    }


def order_row(node: dict) -> dict:
    total = node.get("totalPriceSet") or {}
    return {
        **_ids(node), "name": node.get("name"), "email": node.get("email"), "phone": node.get("phone"),
        "customer_id": _legacy(node.get("customer")),
        "created_at": _time(node.get("createdAt")), "processed_at": _time(node.get("processedAt")),
        "updated_at": _time(node.get("updatedAt")), "cancelled_at": _time(node.get("cancelledAt")),
        "cancel_reason": node.get("cancelReason"), "closed_at": _time(node.get("closedAt")),
        "financial_status": node.get("displayFinancialStatus"),
        "fulfillment_status": node.get("displayFulfillmentStatus"),
        "source_name": node.get("sourceName"),
        "currency": node.get("currencyCode") or (total.get("shopMoney") or {}).get("currencyCode"),
        "total_price": _money(node.get("totalPriceSet")), "subtotal_price": _money(node.get("subtotalPriceSet")),
        "total_tax": _money(node.get("totalTaxSet")), "total_discounts": _money(node.get("totalDiscountsSet")),
        "total_refunded": _money(node.get("totalRefundedSet")),
        "discount_codes": _joined(node.get("discountCodes")), "tags": _joined(node.get("tags")),
        "payment_gateway_names": _joined(node.get("paymentGatewayNames")),
        "line_items": [_line_item_row(item) for item in _nodes(node.get("lineItems"))],
        "discount_applications": [_discount_row(a) for a in _nodes(node.get("discountApplications"))],
        "refunds": [{"id": _legacy(refund), "created_at": _time(refund.get("createdAt")), "note": refund.get("note"),
                     "amount": _money(refund.get("totalRefundedSet"))} for refund in node.get("refunds") or []],
    }


def product_row(node: dict) -> dict:
    return {
        **_ids(node), "title": node.get("title"), "handle": node.get("handle"), "vendor": node.get("vendor"),
        "product_type": node.get("productType"), "status": node.get("status"), "tags": _joined(node.get("tags")),
        "created_at": _time(node.get("createdAt")), "updated_at": _time(node.get("updatedAt")),
        "published_at": _time(node.get("publishedAt")),
        "variants": [{"id": _legacy(v), "title": v.get("title"), "sku": v.get("sku"),
                      "price": Decimal(v["price"]) if v.get("price") is not None else None,
                      "compare_at_price": Decimal(v["compareAtPrice"]) if v.get("compareAtPrice") else None,
                      "inventory_quantity": v.get("inventoryQuantity")} for v in _nodes(node.get("variants"))],
    }


def abandoned_checkout_row(node: dict) -> dict:
    total = node.get("totalPriceSet") or {}
    return {
        **_ids(node), "name": node.get("name"), "abandoned_checkout_url": node.get("abandonedCheckoutUrl"),
        "customer_id": _legacy(node.get("customer")),
        "created_at": _time(node.get("createdAt")), "updated_at": _time(node.get("updatedAt")),
        "completed_at": _time(node.get("completedAt")), "discount_codes": _joined(node.get("discountCodes")),
        "currency": (total.get("shopMoney") or {}).get("currencyCode"),
        "total_price": _money(node.get("totalPriceSet")), "subtotal_price": _money(node.get("subtotalPriceSet")),
        "line_items": [_line_item_row(item) for item in _nodes(node.get("lineItems"))],
    }


_CUSTOMER_FIELDS = (
    "id legacyResourceId email phone firstName lastName displayName state verifiedEmail tags note numberOfOrders "
    "amountSpent { amount currencyCode } defaultAddress { address1 city provinceCode zip countryCodeV2 } "
    "emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } "
    "smsMarketingConsent { marketingState consentUpdatedAt } createdAt updatedAt"
)
_ORDER_FIELDS = (
    "id legacyResourceId name email phone customer { legacyResourceId } createdAt processedAt updatedAt "
    "cancelledAt cancelReason closedAt displayFinancialStatus displayFulfillmentStatus sourceName currencyCode "
    "discountCodes tags paymentGatewayNames "
    f"totalPriceSet {{ {MONEY} }} subtotalPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} "
    f"totalDiscountsSet {{ {MONEY} }} totalRefundedSet {{ {MONEY} }} "
    f"refunds(first: {REFUNDS_PER_ORDER}) {{ id legacyResourceId createdAt note totalRefundedSet {{ {MONEY} }} }}"
)
_LINE_ITEM_FIELDS = (f"__typename id name sku quantity variant {{ legacyResourceId }} product {{ legacyResourceId }} "
                     f"originalUnitPriceSet {{ {MONEY} }}")
_DISCOUNT_FIELDS = ("__typename allocationMethod targetType value { ... on MoneyV2 { amount currencyCode } "
                    "... on PricingPercentageValue { percentage } } ... on DiscountCodeApplication { code } "
                    "... on AutomaticDiscountApplication { title } ... on ManualDiscountApplication { title }")
_DISCOUNT_TYPES = ("DiscountCodeApplication", "AutomaticDiscountApplication", "ManualDiscountApplication",
                   "ScriptDiscountApplication")
_PRODUCT_FIELDS = ("id legacyResourceId title handle vendor productType status tags createdAt updatedAt publishedAt")
_VARIANT_FIELDS = "__typename id legacyResourceId title sku price compareAtPrice inventoryQuantity"
_CHECKOUT_FIELDS = (f"id name abandonedCheckoutUrl customer {{ legacyResourceId }} createdAt updatedAt completedAt "
                    f"discountCodes totalPriceSet {{ {MONEY} }} subtotalPriceSet {{ {MONEY} }}")
_CHECKOUT_LINE_FIELDS = (f"__typename id title quantity variant {{ legacyResourceId }} product {{ legacyResourceId }} "
                         f"originalUnitPriceSet {{ {MONEY} }}")

def _types(**groups: str) -> dict[str, str]:
    """`_types(text="a b", bigint="id")` -> {"a": "text", "b": "text", "id": "bigint"}."""
    return {name: kind for kind, names in groups.items() for name in names.split()}


_CUSTOMER_COLUMNS = _types(
    bigint="id orders_count", decimal="amount_spent", bool="verified_email",
    timestamp="email_consent_updated_at sms_consent_updated_at created_at updated_at",
    text="admin_graphql_api_id email phone first_name last_name display_name state tags note currency "
         "email_marketing_state email_marketing_opt_in_level sms_marketing_state address1 city province_code zip "
         "country_code")
_ORDER_COLUMNS = _types(
    bigint="id customer_id", decimal="total_price subtotal_price total_tax total_discounts total_refunded",
    timestamp="created_at processed_at updated_at cancelled_at closed_at",
    text="admin_graphql_api_id name email phone cancel_reason financial_status fulfillment_status source_name "
         "currency discount_codes tags payment_gateway_names")
_LINE_ITEM_COLUMNS = _types(bigint="id quantity variant_id product_id", decimal="price", text="name sku")
_PRODUCT_COLUMNS = _types(bigint="id", timestamp="created_at updated_at published_at",
                          text="admin_graphql_api_id title handle vendor product_type status tags")
_CHECKOUT_COLUMNS = _types(bigint="id customer_id", decimal="total_price subtotal_price",
                           timestamp="created_at updated_at completed_at",
                           text="admin_graphql_api_id name abandoned_checkout_url discount_codes currency")

RESOURCES: tuple[ShopifyResource, ...] = (
    ShopifyResource("customers", "customers", "Customer", _CUSTOMER_FIELDS, customer_row, CUSTOMERS_PAGE,
                    columns=_CUSTOMER_COLUMNS),
    ShopifyResource("orders", "orders", "Order", _ORDER_FIELDS, order_row, ORDERS_PAGE,
                    (Nested("lineItems", _LINE_ITEM_FIELDS, ("LineItem",)),
                     Nested("discountApplications", _DISCOUNT_FIELDS, _DISCOUNT_TYPES, 5)),
                    columns=_ORDER_COLUMNS, child_columns={
                        "line_items": _LINE_ITEM_COLUMNS,
                        "discount_applications": _types(decimal="value_amount", double="value_percentage",
                                                        text="type code title allocation_method target_type"),
                        "refunds": _types(bigint="id", timestamp="created_at", text="note", decimal="amount")}),
    ShopifyResource("products", "products", "Product", _PRODUCT_FIELDS, product_row, PRODUCTS_PAGE,
                    (Nested("variants", _VARIANT_FIELDS, ("ProductVariant",), PRODUCT_VARIANTS_PAGE),),
                    columns=_PRODUCT_COLUMNS, child_columns={"variants": _types(
                        bigint="id inventory_quantity", decimal="price compare_at_price", text="title sku")}),
    ShopifyResource("abandoned_checkouts", "abandonedCheckouts", "AbandonedCheckout", _CHECKOUT_FIELDS,
                    abandoned_checkout_row, ABANDONED_CHECKOUTS_PAGE,
                    (Nested("lineItems", _CHECKOUT_LINE_FIELDS, ("AbandonedCheckoutLineItem",)),),
                    columns=_CHECKOUT_COLUMNS, child_columns={"line_items": _LINE_ITEM_COLUMNS}),
)
