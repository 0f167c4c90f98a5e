"""Identity quality on the synthetic world: pairwise precision and recall against its truth.

The whole real path: `generate_world` -> collect endpoint (replay over HTTP on loopback)
-> spool -> loader; Shopify, Stripe and Mailchimp emulators (serving the same world) ->
dlt pulls; then the staging and identity models, and `score_identity` against
truth/identifiers. Goal: precision >= 0.999, recall >= 0.99. Recall is printed over every
true pair and over the linkable ones (pairs some chain of the world's records ties together,
as the generator records them in the truth's `link_group`).

    .venv/bin/python bench/identity_quality.py --people 2000 --seed 7
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headwater.config import parse_config  # noqa: E402
from headwater.loopback import LoopbackServer, free_port  # noqa: E402
from headwater.warehouse import Warehouse  # noqa: E402
from models.build import BuildContext, build_models  # noqa: E402
from models.catalog import catalog  # noqa: E402


def world_config(folder: Path, manifest, urls: dict[str, str], port: int):
    from sources.mailchimp.emulator import DEFAULT_API_KEY as MAILCHIMP_KEY
    from sources.stripe.emulator import DEFAULT_API_KEY as STRIPE_KEY

    return parse_config({
        "warehouse": f"duckdb:///{folder / 'warehouse.duckdb'}",
        "collect": {"spool_dir": str(folder / "spool"), "port": port, "rotate_seconds": 3600},
        "sources": [
            *({"name": name, "type": "events", "write_key": key} for name, key in manifest.write_keys.items()),
            {"name": "shopify", "type": "shopify", "access_token": "shpat_emulator", "base_url": urls["shopify"]},
            {"name": "stripe", "type": "stripe", "api_key": STRIPE_KEY, "base_url": urls["stripe"]},
            {"name": "mailchimp", "type": "mailchimp", "api_key": MAILCHIMP_KEY, "base_url": urls["mailchimp"]},
        ],
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="keep the world and warehouse in this folder")
    args = parser.parse_args()

    from pipelines.cloud_sources import run_sources
    from pipelines.spool_loader import load_spool
    from sources.collect.app import create_app
    from sources.mailchimp.emulator import create_app as mailchimp_app
    from sources.shopify.emulator import create_app as shopify_app
    from sources.stripe.emulator import create_app as stripe_app
    from sources.synthetic.replay import replay
    from sources.synthetic.scoring import score_identity
    from sources.synthetic.world import generate_world

    folder = args.keep or Path(tempfile.mkdtemp(prefix="hw-quality-"))
    folder.mkdir(parents=True, exist_ok=True)
    world = folder / "world"
    started = time.perf_counter()
    manifest = generate_world(world, people=args.people, seed=args.seed, end="2026-11-01")
    print(f"world: {args.people} people, {sum(manifest.counts['events'].values())} events "
          f"({time.perf_counter() - started:.1f} s)")
    # a fast cost bucket: the bench measures identity, not Shopify's rate limit
    emulators = [LoopbackServer(shopify_app(world, restore_rate=100_000)).start(),
                 LoopbackServer(stripe_app(world)).start(), LoopbackServer(mailchimp_app(world)).start()]
    try:
        urls = {"shopify": emulators[0].url, "stripe": emulators[1].url, "mailchimp": emulators[2].url + "/3.0"}
        config = world_config(folder, manifest, urls, free_port())
        with LoopbackServer(create_app(config)) as collect:
            replay(world, collect.url, shift_to_now=False, progress=False)
        loaded = load_spool(config)
        print(f"loaded {loaded.loaded} events; pulling vendors")
        run_sources(config)
    finally:
        for server in emulators:
            server.stop()
    warehouse = Warehouse(config.warehouse)
    models = [m for m in catalog() if m.layer in ("staging", "identity")]
    build_started = time.perf_counter()
    build_models(BuildContext(warehouse, config), models)
    build_seconds = time.perf_counter() - build_started
    rows = warehouse.query("SELECT profile_id, id_type, id_value FROM cdp.profile_identities")
    score = score_identity(rows, world)
    rejected = warehouse.query("SELECT reason, COUNT(*) AS n FROM cdp.identity_rejections GROUP BY reason ORDER BY reason")
    print(f"identity build: {build_seconds:.1f} s; {len(rows)} identifiers on {score.profiles} profiles; "
          "rejections " + ", ".join(f"{r['reason']} {r['n']}" for r in rejected))
    print(f"precision {score.precision:.4f}  recall {score.recall:.4f}  F1 {score.f1:.4f}  "
          f"(pairs {score.correct_pairs}/{score.predicted_pairs} predicted, {score.true_pairs} true; "
          f"identifiers scored {score.identifiers_scored}, missing {score.identifiers_missing}; "
          f"over-merged people {score.over_merged_people}, split people {score.split_people})")
    print(f"linkable recall {score.linkable_recall:.4f} ({score.correct_linkable_pairs}/{score.linkable_pairs} pairs "
          f"that the world's records tie together; {score.true_pairs - score.linkable_pairs} true pairs no record ties)")
    print(f"recall ceiling {score.recall_ceiling:.4f} (plain recall of a resolver joining every chain of records)")
    for offender in score.worst_over_merged[:5]:
        print("  over-merged:", offender)
    for offender in score.worst_split[:5]:
        print("  split:", offender)


if __name__ == "__main__":
    main()
