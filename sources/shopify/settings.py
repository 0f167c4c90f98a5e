"""Constants of the Shopify source: page sizes chosen to keep every query under Shopify's cost cap.

A page's requested cost is 2 + first x (cost of one node, nested connections included);
Shopify refuses a query over 1000 points, and a dear query drains the 1000-point bucket
(refilled at 50/s on standard plans), so the sizes below keep each query under ~900.
"""

from __future__ import annotations

DEFAULT_API_VERSION = "2025-10"
SHOP_URL = "https://{shop}.myshopify.com"
GRAPHQL_PATH = "/admin/api/{version}/graphql.json"

# top-level page sizes (requested cost per page in the comment)
CUSTOMERS_PAGE = 100           # 2 + 100 x 5  = 502
ORDERS_PAGE = 8                # 2 + 8 x 106  = 850
PRODUCTS_PAGE = 25             # 2 + 25 x 23  = 577
ABANDONED_CHECKOUTS_PAGE = 15  # 2 + 15 x 58  = 872
# first page of a nested connection, fetched with its parent; the rest follows by node(id:)
NESTED_PAGE = 10
PRODUCT_VARIANTS_PAGE = 20
NESTED_FOLLOW_UP_PAGE = 100    # 1 + 2 + 100 x 5 = 503
REFUNDS_PER_ORDER = 10

MAX_ATTEMPTS = 8               # per request, for 5xx / 429 / dropped connections
MAX_THROTTLE_WAITS = 100       # THROTTLED answers waited out for one request before giving up
BULK_POLL_SECONDS = 2.0
BULK_MAX_POLLS = 10_000
BULK_BATCH_ROWS = 1_000
