"""Events every 5 minutes: a sensor that asks for a spool load only when closed files wait.

Why a sensor and not a schedule: most ticks find nothing to load; a sensor skips them
without starting a run. The run key is the waiting files' names, so the same backlog
never starts two loads.
"""

import hashlib
from pathlib import Path

import dagster as dg

from dagster_project.lib.policy import default_status, project_config, spool_keys

SENSOR_NAME = "spool_backlog_sensor"
EVERY_FIVE_MINUTES = 300


def waiting_files(spool_dir: Path) -> list[str]:
    from sources.collect.spool import CLOSED, SUFFIX, backlog

    if not backlog(spool_dir)[CLOSED]:
        return []
    return sorted(path.name for path in (Path(spool_dir) / CLOSED).glob(f"*{SUFFIX}"))


def spool_sensor(keys: list[dg.AssetKey], status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    @dg.sensor(name=SENSOR_NAME, target=keys, minimum_interval_seconds=EVERY_FIVE_MINUTES,
               default_status=status, description="Loads the spool when closed files are waiting (every 5 minutes).")
    def _sensor(context: dg.SensorEvaluationContext):
        files = waiting_files(project_config().collect.spool_dir)
        if not files:
            return dg.SkipReason("no closed spool files waiting")
        run_key = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, tags={"headwater/spool_files": str(len(files))})

    return _sensor


@dg.definitions
def defs() -> dg.Definitions:
    config = project_config()
    keys = list(spool_keys(config).values())
    return dg.Definitions(sensors=[spool_sensor(keys, default_status(config))] if keys else [])
