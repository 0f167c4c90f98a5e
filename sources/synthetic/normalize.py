"""Identifier normalization, the one definition the ground truth and the scorer share.

Why here: the truth file promises identifiers "normalized as the models normalize them"
(email trimmed and lowercased, phone E.164 via `phonenumbers`), so the generator and the
scorer must agree byte for byte; vendors' own derived ids (Mailchimp's member id) too.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import phonenumbers


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


@lru_cache(maxsize=1024)
def normalize_phone(raw: str, default_region: str | None = None) -> str | None:
    """E.164 (`+14155550134`), or None when the text is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mailchimp_member_id(email: str) -> str:
    """Mailchimp's subscriber hash: MD5 of the lowercase address."""
    return hashlib.md5(normalize_email(email).encode()).hexdigest()


def normalize_identifier(id_type: str, value: str, default_region: str | None = None) -> str | None:
    """Normalize any identifier type named in FORMAT.md; None when it cannot be used."""
    if value is None:
        return None
    value = str(value)
    if id_type == "email":
        return normalize_email(value) or None
    if id_type == "phone":
        return normalize_phone(value, default_region) or value.strip() or None
    return value.strip() or None
