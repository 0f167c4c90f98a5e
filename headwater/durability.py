"""fsync a file or a folder by path: what makes a rename or a rewrite survive a power cut.

The collect spool (closing and claiming files) and the privacy compaction (replacing the
DuckDB file) both promise "on disk before we answer or delete"; a rename is durable only
once its folder is fsync'd, and a file written by another library only once it is.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path | str) -> None:
    """Flush `path` (a file, or a folder's entries after a rename) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
