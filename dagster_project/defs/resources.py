"""The resources every defs folder shares: `headwater` (headwater.yml) and `dlt`."""

import dagster as dg
from dagster_dlt import DagsterDltResource

from dagster_project.lib.resources import HeadwaterResource


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"headwater": HeadwaterResource(), "dlt": DagsterDltResource()})
