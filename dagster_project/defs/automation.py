"""Declarative automation: models run after their inputs, syncs after their audiences.

Assets carry `AutomationCondition.eager()`; this sensor evaluates them. It is declared
here (instead of Dagster's implicit default sensor) so it starts off in the demo and on
when `schedules.enabled` is set.
"""

import dagster as dg

from dagster_project.lib.policy import default_status, project_config

SENSOR_NAME = "models_and_syncs_automation"


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[dg.AutomationConditionSensorDefinition(
        SENSOR_NAME, target=dg.AssetSelection.all(), default_status=default_status(project_config()),
        description="Materializes models after their inputs and syncs after their audiences.")])
