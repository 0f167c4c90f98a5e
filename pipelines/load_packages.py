"""Keep dlt's working folder down to what is in flight: loaded packages are removed.

Why: dlt moves every package it loaded to `<pipeline>/load/loaded/<load_id>/` and keeps it,
job files and all (`customers.*.insert_values.gz` holds every customer's email and name). The
warehouse is the store of record; a second, unmanaged copy of every row on local disk would
outlive a privacy deletion and grow without bound. Packages that failed or are still pending
stay (`load/normalized`, `load/new`): they are the data a retry needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def loaded_package_folders(working_dir: Path) -> list[Path]:
    """Every loaded package of every pipeline under a dlt working folder."""
    if not working_dir.exists():
        return []
    return sorted(path for path in working_dir.glob("*/load/loaded/*") if path.is_dir())


def remove_loaded_packages(working_dir: Path) -> int:
    """Delete the loaded packages under `working_dir`; the number removed."""
    folders = loaded_package_folders(working_dir)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


def forget_run_trace(pipeline_dir: Path) -> None:
    """Remove dlt's pickled trace of the last run: it keeps the run's exceptions word for word,
    and a vendor error may echo the API key back (issue 17). The counts a pull reports are read
    from the trace in memory before this."""
    (pipeline_dir / "trace.pickle").unlink(missing_ok=True)
