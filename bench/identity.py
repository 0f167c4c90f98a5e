"""Identity resolution speed: connected components in the warehouse vs scipy in memory.

What it measures, on the same synthetic identifier graph (chains, person-sized clusters and
hubs, node ids shuffled so no order helps):
  warehouse  models.identity.components.label_components on DuckDB (a file warehouse), end
             to end from an edge table to a node->component table, including loading the edges
  floor      scipy.sparse.csgraph.connected_components on the same edges (in-memory CSR),
             including building the matrix from the edge arrays
and checks both give the same partition. Medians of --repeat runs.

    .venv/bin/python bench/identity.py --edges 10000000 --repeat 3
    .venv/bin/python bench/identity.py --edges 200000            # quick run
    .venv/bin/python bench/identity.py --edges 1000000 --pipeline # every staging + identity model

--pipeline times the whole model chain instead (raw Segment `aliases` rows, one per edge ->
observations, normalization, blocklist, edges, components, guards, stable ids,
cdp.profile_identities), with limits off so the graph is exactly scipy's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.adapter import Engine  # noqa: E402
from models.identity.components import label_components  # noqa: E402


def synthetic_graph(edges: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, int]:
    """Edge arrays (a, b) and node count: 10% long chains, 80% person clusters, 10% hubs."""
    rng = np.random.default_rng(seed)
    parts_a, parts_b, next_node = [], [], 0
    # long chains: 10 chains sharing 10% of the edges
    chain_edges = edges // 10
    per_chain = max(chain_edges // 10, 1)
    for _ in range(10):
        nodes = np.arange(next_node, next_node + per_chain + 1)
        parts_a.append(nodes[:-1]); parts_b.append(nodes[1:])
        next_node += per_chain + 1
    # person clusters: 2-12 identifiers, each joined to a random earlier one (a random tree)
    cluster_edges = edges * 8 // 10
    sizes = rng.integers(2, 13, size=cluster_edges // 6 + 1)
    sizes = sizes[np.cumsum(sizes - 1) <= cluster_edges]
    total = int(sizes.sum())
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    offsets = np.arange(total) - starts
    members = offsets > 0
    parent_offsets = (rng.random(total) * np.maximum(offsets, 1)).astype(np.int64)
    parts_a.append(next_node + starts[members] + parent_offsets[members])
    parts_b.append(next_node + np.arange(total)[members])
    next_node += total
    # hubs: 100 shared identifiers, each linked to many otherwise separate clusters' nodes
    hub_edges = edges - sum(len(p) for p in parts_a)
    hubs = np.arange(next_node, next_node + 100)
    next_node += 100
    if hub_edges > 0:
        parts_a.append(rng.choice(hubs, size=hub_edges))
        parts_b.append(rng.integers(0, next_node - 100, size=hub_edges))
    a, b = np.concatenate(parts_a), np.concatenate(parts_b)
    shuffle = rng.permutation(next_node)  # node ids carry no order
    return shuffle[a].astype(np.int64), shuffle[b].astype(np.int64), next_node


def run_duckdb(a: np.ndarray, b: np.ndarray, n: int, folder: Path) -> tuple[float, np.ndarray, int]:
    import duckdb
    import pyarrow as pa

    path = folder / "bench.duckdb"
    path.unlink(missing_ok=True)
    connection = duckdb.connect(str(path))
    try:
        started = time.perf_counter()
        connection.register("edge_arrays", pa.table({"a": a, "b": b}))
        connection.execute("CREATE TABLE edges AS SELECT a, b FROM edge_arrays")
        connection.execute("CREATE TABLE nodes AS SELECT range AS node FROM range(?)", [n])
        connection.unregister("edge_arrays")
        engine = Engine(connection, "duckdb")
        rounds = label_components(engine, "SELECT a, b FROM edges", "SELECT node FROM nodes", labels="labels")
        connection.execute("CREATE TABLE node_components AS SELECT node, component FROM labels")
        elapsed = time.perf_counter() - started
        labels = connection.execute("SELECT component FROM node_components ORDER BY node").fetchnumpy()["component"]
        return elapsed, np.asarray(labels), rounds
    finally:
        connection.close()


def run_scipy(a: np.ndarray, b: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    started = time.perf_counter()
    matrix = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(matrix, directed=False)
    return time.perf_counter() - started, labels


def run_pipeline(a: np.ndarray, b: np.ndarray, folder: Path) -> tuple[float, int]:
    """Raw rows -> cdp.profile_identities through every staging and identity model."""
    import pyarrow as pa

    from headwater.config import parse_config
    from headwater.warehouse import Warehouse
    from models.build import BuildContext, build_models
    from models.catalog import catalog

    path = folder / "pipeline.duckdb"
    path.unlink(missing_ok=True)
    warehouse = Warehouse(f"duckdb:///{path}")
    count = len(a)
    start = np.datetime64("2026-01-01T00:00:00", "s")
    rows = pa.table({
        "id": pa.array(np.char.add("m", np.arange(count).astype(str))),
        "timestamp": pa.array(start + np.arange(count).astype("timedelta64[s]")),
        "previous_id": pa.array(np.char.add("n", a.astype(str))),
        "user_id": pa.array(np.char.add("n", b.astype(str))),
    })
    with warehouse.connect() as connection:
        connection.execute("CREATE SCHEMA web")
        connection.register("raw_rows", rows)
        connection.execute("CREATE TABLE web.aliases AS SELECT id, CAST(timestamp AS TIMESTAMPTZ) AS timestamp, "
                           "previous_id, user_id FROM raw_rows")
        connection.unregister("raw_rows")
    config = parse_config({"warehouse": warehouse.url,
                           "sources": [{"name": "web", "type": "events", "write_key": "k"}],
                           "identity": {"id_types": {"user_id": {"limit": None}}, "max_component_size": 10**9}})
    started = time.perf_counter()
    build_models(BuildContext(warehouse, config), [m for m in catalog() if m.layer in ("staging", "identity")])
    elapsed = time.perf_counter() - started
    profiles = warehouse.query("SELECT COUNT(DISTINCT profile_id) AS n FROM cdp.profile_identities")[0]["n"]
    return elapsed, profiles


def same_partition(left: np.ndarray, right: np.ndarray) -> bool:
    pairs = np.unique(np.stack([left, right], axis=1), axis=0)
    return len(pairs) == len(np.unique(left)) == len(np.unique(right))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pipeline", action="store_true", help="time every staging and identity model instead")
    args = parser.parse_args()
    a, b, n = synthetic_graph(args.edges)
    print(f"graph: {len(a):,} edges, {n:,} nodes (chains, clusters, hubs)")
    warehouse_times, floor_times = [], []
    if args.pipeline:
        with tempfile.TemporaryDirectory() as folder:
            for attempt in range(args.repeat):
                seconds, profiles = run_pipeline(a, b, Path(folder))
                floor_seconds, scipy_labels = run_scipy(a, b, n)
                touched = np.unique(np.concatenate([a, b]))
                expected = len(np.unique(scipy_labels[touched]))
                if profiles != expected:
                    raise SystemExit(f"pipeline found {profiles} profiles, scipy {expected} components")
                warehouse_times.append(seconds)
                floor_times.append(floor_seconds)
                print(f"run {attempt + 1}: models {seconds:.2f} s ({profiles:,} profiles), scipy {floor_seconds:.2f} s")
        print(f"median of {args.repeat}: staging + identity models {statistics.median(warehouse_times):.2f} s, "
              f"scipy floor {statistics.median(floor_times):.2f} s; same components: yes")
        return
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(args.repeat):
            seconds, duck_labels, rounds = run_duckdb(a, b, n, Path(folder))
            warehouse_times.append(seconds)
            floor_seconds, scipy_labels = run_scipy(a, b, n)
            floor_times.append(floor_seconds)
            if attempt == 0 and not same_partition(duck_labels, scipy_labels):
                raise SystemExit("DuckDB and scipy disagree on the components")
            print(f"run {attempt + 1}: duckdb {seconds:.2f} s ({rounds} rounds), scipy {floor_seconds:.2f} s")
    duck, floor = statistics.median(warehouse_times), statistics.median(floor_times)
    print(f"median of {args.repeat}: duckdb {duck:.2f} s, scipy floor {floor:.2f} s, ratio {duck / floor:.1f}x; "
          f"same components: yes")


if __name__ == "__main__":
    main()
