"""What a world is made of: the rates of every realism and adversarial case, and the
manifest that records how a world was generated.

Why pydantic: rates come from the CLI and from other engineers' tests; a rate outside
[0, 1] or a misspelt name must fail with the field named, not skew a benchmark silently.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1
EVENT_SOURCES = ("website", "app")



class WorldRates(BaseModel):
    """Each rate is the share of people (or messages, or devices) affected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shared_device: float = Field(0.02, ge=0, le=1, description="people in a pair sharing one anonymousId")
    household_email: float = Field(0.02, ge=0, le=1, description="people in a pair sharing one email")
    recycled_phone: float = Field(0.01, ge=0, le=1, description="people in a pair where a phone number passed from one to the other")
    placeholder: float = Field(0.01, ge=0, le=1, description="people typing a placeholder (test@test.com, null, 0, anonymous, -1)")
    second_email: float = Field(0.05, ge=0, le=1, description="people using a second email at another vendor")
    email_variant: float = Field(0.25, ge=0, le=1, description="vendor records with the email in other case or padded")
    guest_checkout: float = Field(0.1, ge=0, le=1, description="buyers ordering without a Shopify account")
    duplicate_message: float = Field(0.01, ge=0, le=1, description="messages sent twice with one messageId")
    late_message: float = Field(0.02, ge=0, le=1, description="messages sent hours or days after they happened")
    clock_skew_device: float = Field(0.05, ge=0, le=1, description="devices whose clock is hours off")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: int = FORMAT_VERSION
    seed: int
    people: int
    start: str
    end: str
    months: int
    rates: WorldRates
    write_keys: dict[str, str]
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    compressed: bool = False
    generator: str = f"headwater.synthetic {FORMAT_VERSION}"
