"""Put the build's as_of and the `conversions:` settings into a one-row table SQL models join.

Why a table and not templated SQL: the models stay plain SELECTs that sqlglot reads and
transpiles, and analysts can see which windows produced cdp.conversions and cdp.attribution.
"""

from __future__ import annotations

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

COLUMNS = {"as_of": "TIMESTAMPTZ", "click_lookback_days": "INTEGER", "attribution_lookback_days": "INTEGER",
           "time_decay_half_life_days": "DOUBLE"}


def write_conversion_settings(model: Model, context: BuildContext, engine: Engine) -> None:
    settings = context.config.conversions
    engine.create_table(model.target, COLUMNS)
    engine.insert_rows(model.target, list(COLUMNS), [(context.as_of, settings.click_lookback_days,
                                                      settings.attribution_lookback_days,
                                                      settings.time_decay_half_life_days)])
