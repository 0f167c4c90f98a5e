"""The Headwater resource: how an asset finds headwater.yml (and so the warehouse).

Why a file path and not the parsed config: Dagster resources must be serializable
run config; the file is re-read in the run, so a run launched from the UI sees the same
settings as `headwater` commands, and `HEADWATER_CONFIG` points both at another file.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from headwater.config import HeadwaterConfig, load_config
from headwater.warehouse import Warehouse


class HeadwaterResource(dg.ConfigurableResource):
    """headwater.yml for the run: `config_file`, else $HEADWATER_CONFIG, else ./headwater.yml."""

    config_file: str | None = None

    def config(self) -> HeadwaterConfig:
        return load_config(Path(self.config_file) if self.config_file else None)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.config().warehouse)
