"""Phone numbers to E.164, the one definition the models and the synthetic world's truth share.

Why in the kernel: the identity models (`models/staging/phones.py`) normalize phones with it,
and the synthetic generator and scorer (`sources/synthetic/normalize.py`) must write and
compare identifiers "normalized as the models normalize them", byte for byte. Neither layer
may import the other, so the rule lives here, below both.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DEFAULT_COUNTRY = "US"  # identity.default_country's default (models/config.py); a test keeps them equal


def region(country_hint: str | None, default_country: str) -> str:
    """The row's country when it is an ISO region phonenumbers knows, else the default."""
    hint = (country_hint or "").strip().upper()
    return hint if hint in phonenumbers.SUPPORTED_REGIONS else default_country


def _valid_e164(text: str, region_code: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def to_e164(raw: str, region_first: str, default_country: str | None = None) -> str | None:
    """'(415) 555-0132' -> '+14155550132'; None when it is not a valid number.

    Read in `region_first` (the row's country), then in the default country, then, for
    '00…', as an international number (00 is the exit code of most of the world, though
    not of Australia, whose 0011 phonenumbers expects).
    """
    text = raw.strip()
    for region_code in dict.fromkeys(r for r in (region_first, default_country) if r):
        found = _valid_e164(text, region_code)
        if found:
            return found
    digits = text.replace(" ", "").replace("-", "").replace(".", "")
    return _valid_e164("+" + digits[2:], None) if digits.startswith("00") else None


def normalize_phone(raw: str, country_hint: str | None = None, default_country: str = DEFAULT_COUNTRY) -> str | None:
    """E.164 of a phone as the identity models read it from a row giving `country_hint`."""
    return to_e164(raw, region(country_hint, default_country), default_country)
