"""The synthetic customer world: one seeded generator of a fictional ticket-and-merch
business (people, Segment events, Shopify/Stripe/Mailchimp records, ground truth) that
the demo, the emulators, the model tests and the benchmarks all use.

Owns: generation (`world`), the on-disk format (FORMAT.md, `files`), replay to a collect
endpoint (`replay`) and identity scoring (`scoring`). May import the `headwater` kernel
only; never pipelines/ or other sources.
"""

from __future__ import annotations

from sources.synthetic.files import iter_events, iter_vendor_records
from sources.synthetic.settings import Manifest, WorldRates
from sources.synthetic.world import WorldError, generate_world, read_manifest

__all__ = ["Manifest", "WorldRates", "WorldError", "generate_world", "iter_events", "iter_vendor_records",
           "read_manifest", "replay", "score_identity"]


def __getattr__(name: str):
    """`replay` and `score_identity` pull in httpx and DuckDB, so import them on first use."""
    if name == "replay":
        from sources.synthetic.replay import replay

        return replay
    if name == "score_identity":
        from sources.synthetic.scoring import score_identity

        return score_identity
    raise AttributeError(name)
