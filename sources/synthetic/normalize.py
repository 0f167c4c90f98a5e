"""Identifier normalization, the one definition the ground truth and the scorer share.

Why here: the truth file promises identifiers "normalized as the models normalize them"
(email trimmed and lowercased, phone E.164 read in the row's country, then in the default
country, then as '00' international), so the generator and the scorer must agree byte for
byte with the models; phones therefore go through the kernel's `headwater.phones`, the rule
the models' `phone_numbers` table applies. Vendors' own derived ids (Mailchimp's member id) too.
"""

from __future__ import annotations

import hashlib

from headwater.phones import normalize_phone as _model_phone


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def normalize_phone(raw: str, country_hint: str | None = None) -> str | None:
    """E.164 (`+14155550134`) as the models read it from a row giving `country_hint` (under
    identity.default_country's default), or None when the models reject it as invalid_phone."""
    return _model_phone(raw, country_hint)


def mailchimp_member_id(email: str) -> str:
    """Mailchimp's subscriber hash: MD5 of the lowercase address."""
    return hashlib.md5(normalize_email(email).encode()).hexdigest()


def normalize_identifier(id_type: str, value: str, country_hint: str | None = None) -> str | None:
    """Normalize any identifier type named in FORMAT.md; None when the models cannot use it."""
    if value is None:
        return None
    value = str(value)
    if id_type == "email":
        return normalize_email(value) or None
    if id_type == "phone":
        return normalize_phone(value, country_hint)
    return value.strip() or None
