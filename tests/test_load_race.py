"""Two loaders racing on one spool: every file is loaded by exactly one of them."""

from __future__ import annotations

import threading
from pathlib import Path

from pipelines.spool_loader import LoadReport, load_files
from sources.collect.spool import backlog, claim_files
from tests.load_helpers import events, loader_config, rows, track, write_spool_file


def test_racing_loaders_never_load_a_file_twice(postgres_warehouse, tmp_path):
    config = loader_config(postgres_warehouse, tmp_path)
    files = 12
    for number in range(files):
        own = [track(f"f{number}-m{index}", revenue=index) for index in range(5)]
        write_spool_file(config, [events([*own, track("resent", revenue=number)])])  # one message in every file
    spool_dir = Path(config.collect.spool_dir)
    start = threading.Barrier(2)
    reports = [LoadReport(), LoadReport()]
    loaded_files: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def loader(number: int) -> None:
        try:
            start.wait()
            while claimed := claim_files(spool_dir, limit=1):  # one file at a time: maximal interleaving
                loaded_files[number] += [claimed_file.path.name for claimed_file in claimed]
                load_files(config, claimed, reports[number])
        except BaseException as error:  # surfaced below, with the thread's traceback
            errors.append(error)

    threads = [threading.Thread(target=loader, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert sorted(loaded_files[0] + loaded_files[1]) == sorted(set(loaded_files[0] + loaded_files[1]))
    assert len(loaded_files[0]) + len(loaded_files[1]) == files
    assert reports[0].files + reports[1].files == files
    # each file's own messages once; the re-sent one once, though both loaders saw copies
    assert reports[0].loaded + reports[1].loaded == files * 5 + 1
    assert reports[0].duplicates + reports[1].duplicates == files - 1
    tracked = [row["id"] for row in rows(postgres_warehouse, "website", "tracks")]
    assert len(tracked) == files * 5 + 1 and tracked.count("resent") == 1
    assert backlog(spool_dir) == {"open": 0, "closed": 0, "claimed": 0, "archive": 0}
