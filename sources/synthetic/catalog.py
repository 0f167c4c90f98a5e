"""The fictional shop's catalog: event tickets and merchandise sold on Shopify, workshops
booked through Stripe Checkout, and a monthly fan-club membership billed by Stripe.

Fixed (not seeded) so product ids are stable across worlds and the demo's audiences can
name them.
"""

from __future__ import annotations

from dataclasses import dataclass

SHOP_CURRENCY = "USD"
PRODUCT_ID_BASE = 8_100_000_000_000
VARIANT_ID_BASE = 44_200_000_000_000
CATALOG_CREATED = 1_700_000_000.0  # 2023-11-14, before any world starts


@dataclass(frozen=True)
class Variant:
    legacy_id: int
    title: str
    sku: str
    price_cents: int


@dataclass(frozen=True)
class Product:
    legacy_id: int
    title: str
    handle: str
    product_type: str  # Ticket | Merch | Workshop | Membership
    category: str
    variants: tuple[Variant, ...]

    @property
    def sold_on_shopify(self) -> bool:
        return self.product_type in ("Ticket", "Merch")


_TICKETS = [
    ("Northern Lights Festival 2026", "festival", 18900),
    ("Harbor Jazz Nights", "concert", 6500),
    ("Indie Rooftop Sessions", "concert", 4500),
    ("Electronica Warehouse Rave", "concert", 5500),
    ("Folk in the Forest Weekend", "festival", 14900),
    ("Symphony Under the Stars", "concert", 7900),
    ("Hip-Hop Block Party", "concert", 3900),
    ("Desert Bloom Festival", "festival", 22900),
]
_MERCH = [
    ("Tour Hoodie", 5900), ("Festival Tee", 2900), ("Enamel Pin Set", 1500),
    ("Vinyl Live Album", 3400), ("Tote Bag", 1900), ("Bucket Hat", 2500),
]
_WORKSHOPS = [
    ("DJ Mixing Workshop", 12000), ("Songwriting Masterclass", 9500),
    ("Stage Lighting Basics", 8000), ("Home Studio Production", 15000),
]
MEMBERSHIP_PRICE_CENTS = 900


def _handle(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-").replace("--", "-")


def _build() -> tuple[Product, ...]:
    products: list[Product] = []
    variant_no = 0

    def variants(sku_base: str, options: list[tuple[str, int]]) -> tuple[Variant, ...]:
        nonlocal variant_no
        built = []
        for title, cents in options:
            variant_no += 1
            built.append(Variant(VARIANT_ID_BASE + variant_no, title, f"{sku_base}-{title[:3].upper()}", cents))
        return tuple(built)

    for number, (title, category, cents) in enumerate(_TICKETS, 1):
        options = [("General Admission", cents), ("VIP", cents * 2 + 5000)]
        products.append(Product(PRODUCT_ID_BASE + len(products) + 1, title, _handle(title), "Ticket", category,
                                variants(f"TKT{number:02d}", options)))
    for number, (title, cents) in enumerate(_MERCH, 1):
        sizes = ["S", "M", "L", "XL"] if title in ("Tour Hoodie", "Festival Tee") else ["One Size"]
        products.append(Product(PRODUCT_ID_BASE + len(products) + 1, title, _handle(title), "Merch", "merchandise",
                                variants(f"MER{number:02d}", [(size, cents) for size in sizes])))
    for number, (title, cents) in enumerate(_WORKSHOPS, 1):
        products.append(Product(PRODUCT_ID_BASE + len(products) + 1, title, _handle(title), "Workshop", "workshop",
                                variants(f"WKS{number:02d}", [("Seat", cents)])))
    products.append(Product(PRODUCT_ID_BASE + len(products) + 1, "Backstage Club Membership", "backstage-club",
                            "Membership", "membership", variants("MEMB", [("Monthly", MEMBERSHIP_PRICE_CENTS)])))
    return tuple(products)


CATALOG: tuple[Product, ...] = _build()
SHOP_PRODUCTS = tuple(p for p in CATALOG if p.sold_on_shopify)
WORKSHOPS = tuple(p for p in CATALOG if p.product_type == "Workshop")
MEMBERSHIP = next(p for p in CATALOG if p.product_type == "Membership")
