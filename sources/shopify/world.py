"""Reading the synthetic world's Shopify records (OUT/vendors/shopify/*.jsonl[.gz]).

The files are already in the GraphQL Admin API's node shapes (sources/synthetic/FORMAT.md),
so the emulator serves them as they are; this module only maps file kinds to the
QueryRoot connections they feed. Uses the generator's reader when it is installed.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson

# world file kind -> QueryRoot connection
FILE_KINDS = {"customers": "customers", "orders": "orders", "products": "products",
              "abandoned_checkouts": "abandonedCheckouts"}


def _read_jsonl(world_dir: Path, kind: str) -> Iterator[dict]:
    try:
        from sources.synthetic import iter_vendor_records  # the generator's own reader
    except ImportError:
        iter_vendor_records = None
    if iter_vendor_records is not None:
        yield from iter_vendor_records(world_dir, "shopify", kind)
        return
    folder = world_dir / "vendors" / "shopify"
    for path in (folder / f"{kind}.jsonl", folder / f"{kind}.jsonl.gz"):
        if path.exists():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as handle:
                for line in handle:
                    if line.strip():
                        yield orjson.loads(line)
            return


def read_world(world_dir: Path) -> dict[str, list[dict]]:
    if not (world_dir / "vendors" / "shopify").is_dir():
        raise FileNotFoundError(f"{world_dir} has no vendors/shopify folder; generate a world with `headwater generate`")
    return {connection: list(_read_jsonl(world_dir, kind)) for kind, connection in FILE_KINDS.items()}
