"""The `conversions` section of headwater.yml: lookback windows for click ids and attribution.

Why configurable: ad platforms accept click ids for different spans (Google Ads up to 90
days, Meta's fbc 7 to 28 days by the advertiser's setting), and how far back a touch may
earn credit is a marketing decision, not an engineering one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConversionsConfig(BaseModel):
    """`conversions:` in headwater.yml."""

    model_config = ConfigDict(extra="forbid")

    click_lookback_days: int = Field(
        90, ge=1, le=540, description="click ids (gclid, fbclid, ttclid...) come from landing pages this recent")
    attribution_lookback_days: int = Field(
        30, ge=1, le=540, description="touchpoints this long before a purchase share its credit")
    time_decay_half_life_days: float = Field(
        7.0, gt=0, description="in the time_decay model a touch this much older earns half the credit")
