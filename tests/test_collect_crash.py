"""Nothing acknowledged is lost: kill -9 the server mid-stream, restart, and count."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx

from headwater.config import parse_config
from headwater.warehouse import Warehouse
from pipelines.spool_loader import load_spool
from sources.collect import spool
from tests.collect_helpers import WRITE_KEYS, ServeProcess, collect_config_dict, spooled_messages, write_config

SENDERS = 6


def _sender(url: str, sender: int, acknowledged: list[str], stop: threading.Event) -> None:
    """Send 20-message batches until stopped; remember ids only from 200 answers."""
    with httpx.Client(base_url=url, auth=(WRITE_KEYS["website"], ""), timeout=5) as client:
        batch_number = 0
        while not stop.is_set():
            ids = [f"s{sender}-b{batch_number}-m{i}" for i in range(20)]
            batch = [{"type": "track", "event": "Crash Test", "userId": f"u{sender}", "messageId": m} for m in ids]
            batch_number += 1
            try:
                response = client.post("/v1/batch", json={"batch": batch})
            except httpx.HTTPError:
                return  # the server died under us: this batch was never acknowledged
            if response.status_code == 200:
                acknowledged.extend(ids)


def test_kill_9_mid_stream_loses_no_acknowledged_message(tmp_path: Path):
    spool_dir = tmp_path / "spool"
    config = write_config(tmp_path / "headwater.yml", spool_dir)
    server = ServeProcess(config).start()
    acknowledged: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_sender, args=(server.url, n, acknowledged, stop)) for n in range(SENDERS)]
    for thread in threads:
        thread.start()
    # kill once a good number of batches has been acknowledged, while senders are still sending
    while len(acknowledged) < 4000:
        threading.Event().wait(0.01)
    server.kill9()
    stop.set()
    for thread in threads:
        thread.join()

    assert any((spool_dir / spool.OPEN).glob("*.hws")), "the dead server should have left its open file"
    restarted = ServeProcess(config, port=server.port).start()
    restarted.stop()

    assert not any((spool_dir / spool.OPEN).glob("*.hws")), "restart must close what the dead process left"
    spooled = Counter(m["messageId"] for m in spooled_messages(spool_dir))
    missing = [m for m in acknowledged if m not in spooled]
    assert missing == [], f"{len(missing)} acknowledged messages lost"
    assert max(spooled.values()) == 1, "a message was spooled twice"

    config = parse_config(collect_config_dict(spool_dir, f"duckdb:///{tmp_path / 'warehouse.duckdb'}"))
    load_spool(config)
    load_spool(config)  # a re-run must add nothing
    loaded = Counter(row["id"] for row in Warehouse(config.warehouse).query("SELECT id FROM website.crash_test"))
    assert set(acknowledged) <= loaded.keys(), "an acknowledged message is missing from the warehouse"
    assert max(loaded.values()) == 1, "a message was loaded twice"


def test_torn_tail_is_cut_on_recovery_and_intact_records_survive(tmp_path: Path):
    spool_dir = tmp_path / "spool"
    writer = spool.SpoolWriter(spool_dir, name="victim")
    for index in range(5):
        writer.write(spool.encode({"source": "website", "kind": "events", "messages": [{"messageId": str(index)}]}))
    writer.sync()
    path = writer.current_path
    torn = spool.encode({"source": "website", "kind": "events", "messages": [{"messageId": "torn"}]})
    with open(path, "ab") as handle:
        handle.write(torn[: len(torn) // 2])  # the crash hit mid-write
    intact_size = path.stat().st_size - len(torn) // 2
    # simulate the writer's death: its flock goes away with its file descriptor
    import os

    os.close(writer._fd)  # noqa: SLF001
    writer._fd = None  # noqa: SLF001

    [recovered] = spool.recover_orphans(spool_dir)
    assert recovered.parent.name == spool.CLOSED and recovered.stat().st_size == intact_size
    assert [r["messages"][0]["messageId"] for r in spool.read_records(recovered)] == ["0", "1", "2", "3", "4"]


def test_a_live_writers_open_file_is_never_recovered_under_it(tmp_path: Path):
    writer = spool.SpoolWriter(tmp_path / "spool", name="alive")
    writer.write(spool.encode({"source": "website", "kind": "events", "messages": []}))
    writer.sync()
    assert spool.recover_orphans(tmp_path / "spool") == []
    assert writer.current_path.exists()
    closed = writer.rotate()
    assert closed.parent.name == spool.CLOSED and len(list(spool.read_records(closed))) == 1


def test_rotation_by_size_publishes_closed_files(tmp_path: Path):
    writer = spool.SpoolWriter(tmp_path / "spool", name="rotating", rotate_bytes=1000)
    record = spool.encode({"source": "website", "kind": "events", "messages": [{"messageId": "x" * 300}]})
    published = []
    for _ in range(10):
        writer.write(record)
        if writer.should_rotate():
            published.append(writer.rotate())
    assert len(published) == 3 and all(p.parent.name == spool.CLOSED for p in published)
    assert sum(len(list(spool.read_records(p))) for p in published) == 9
