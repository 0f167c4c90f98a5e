"""Identifier normalization and hashing: one module, each vendor's own rules.

Why one module: every ad tool matches people on SHA-256 hashes of normalized identifiers,
and a hash of a differently normalized value never matches. The vendors disagree on the
details (Google's Data Manager drops dots and `+tags` from gmail.com local parts and keeps
the `+` of E.164 phones; Meta keeps the gmail dots and hashes phones as bare digits), so
each vendor gets a rule set here, tested against the vendor's own examples and SDKs.
A value that cannot be normalized gives None: the field is left out, never sent raw.
Imports only phonenumbers and the standard library.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_META_LOCATION_DROP = re.compile(r"[0-9.\s\-()]")
_NON_ALPHA = re.compile(r"[^a-z]")
_WHITESPACE = re.compile(r"\s")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """64 lowercase hex characters: what every vendor here accepts as a SHA-256 field."""
    return bool(_SHA256.match(value))


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_INTERNATIONAL = re.compile(r"^\+[1-9][0-9]{7,14}$")


@lru_cache(maxsize=262144)
def e164(raw: str, default_region: str | None = "US") -> str | None:
    """`+14155550134`, or None when the text is not a phone number.

    A number already written internationally (`+`, then 8 to 15 digits) is taken as is, as
    the vendors' own SDKs do; only national numbers need libphonenumber and the row's
    country, which costs about 100x more (it dominated a million-member first sync).
    """
    text = raw.strip()
    if not text:
        return None
    compact = _PHONE_SEPARATORS.sub("", text)
    if _INTERNATIONAL.match(compact):
        return compact
    try:
        parsed = phonenumbers.parse(text, (default_region or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- the shared email rule, and Google's gmail variant -------------------------------------

def email_basic(value: object) -> str | None:
    """Trim and lowercase; None unless it looks like user@domain.tld (Meta, TikTok)."""
    text = _text(value)
    if text is None:
        return None
    text = text.lower()
    return text if _EMAIL.match(text) else None


def email_google(value: object) -> str | None:
    """Google Data Manager: trim, lowercase; for gmail.com/googlemail.com drop `+tag` and dots."""
    text = _text(value)
    if text is None or _WHITESPACE.search(text):
        return None
    text = text.lower()
    if text.count("@") != 1:
        return None
    user, domain = text.split("@")
    if not user or not domain:
        return None
    if domain in _GMAIL_DOMAINS:
        user = user.split("+", 1)[0].replace(".", "")
        if not user:
            return None
    return f"{user}@{domain}"


# --- Meta (Conversions API and Custom Audiences) --------------------------------------------

def meta_phone(value: object, country: object = None) -> str | None:
    """Digits only with the country code, no `+` or leading zeros: `16505551212`."""
    text = _text(value)
    if text is None:
        return None
    number = e164(text, (_text(country) or "US")[:2])
    return number[1:] if number else None


def meta_name(value: object) -> str | None:
    """First/last name: trim and lowercase (UTF-8 kept, as Meta's SDK does)."""
    text = _text(value)
    return text.lower() if text else None


def meta_city(value: object) -> str | None:
    """Lowercase with digits, spaces, dots, hyphens and parentheses removed: `menlopark`."""
    text = _text(value)
    if text is None:
        return None
    return _META_LOCATION_DROP.sub("", text.lower()) or None


meta_state = meta_city  # two-letter code, lowercase, same character rule


def meta_zip(value: object) -> str | None:
    """Lowercase without spaces; a US ZIP+4 keeps its first five digits."""
    text = _text(value)
    if text is None:
        return None
    return _WHITESPACE.sub("", text.lower()).split("-", 1)[0] or None


def meta_country(value: object) -> str | None:
    """ISO 3166-1 alpha-2, lowercase: `us`."""
    text = _text(value)
    if text is None:
        return None
    code = _NON_ALPHA.sub("", text.lower())
    return code if len(code) == 2 else None


def meta_external_id(value: object) -> str | None:
    text = _text(value)
    return text if text else None


# --- Google Data Manager ---------------------------------------------------------------------

def google_phone(value: object, country: object = None) -> str | None:
    """E.164 with the leading `+`: `+16505551212`."""
    text = _text(value)
    if text is None:
        return None
    return e164(text, (_text(country) or "US")[:2])


def google_name(value: object) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def google_region_code(value: object) -> str | None:
    """Two-letter ISO region, uppercase, sent unhashed: `US`."""
    text = _text(value)
    if text is None:
        return None
    text = text.upper()
    return text if len(text) == 2 and text.isalpha() else None


def google_postal_code(value: object) -> str | None:
    """Trimmed, unhashed."""
    return _text(value)


# --- TikTok ----------------------------------------------------------------------------------

tiktok_email = email_basic


def tiktok_phone(value: object, country: object = None) -> str | None:
    """E.164 with `+`, as TikTok's Events API asks before hashing."""
    return google_phone(value, country)


def tiktok_external_id(value: object) -> str | None:
    text = _text(value)
    return text.lower() if text else None


# --- one entry point per vendor ----------------------------------------------------------------

Rule = Callable[..., "str | None"]

VENDOR_RULES: dict[str, dict[str, Rule]] = {
    "meta": {"email": email_basic, "phone": meta_phone, "first_name": meta_name, "last_name": meta_name,
             "city": meta_city, "state": meta_state, "postal_code": meta_zip, "country": meta_country,
             "external_id": meta_external_id},
    "google": {"email": email_google, "phone": google_phone, "first_name": google_name,
               "last_name": google_name, "country": google_region_code, "postal_code": google_postal_code},
    "tiktok": {"email": tiktok_email, "phone": tiktok_phone, "external_id": tiktok_external_id},
}

_COUNTRY_AWARE = frozenset({"phone"})


def normalize(vendor: str, field: str, value: object, country: object = None) -> str | None:
    """The vendor's normalized form of one identifier, or None when it is unusable."""
    if value is None:
        return None
    text = str(value).strip()
    if is_sha256_hex(text.lower()) and field not in ("country", "postal_code"):
        return text.lower()  # already hashed upstream: pass through, never hash twice
    rule = VENDOR_RULES[vendor][field]
    return rule(value, country) if field in _COUNTRY_AWARE else rule(value)


def hashed(vendor: str, field: str, value: object, country: object = None) -> str | None:
    """SHA-256 hex of the vendor-normalized value, or None.

    Cached: cities, states, countries, zips and names repeat across millions of rows.
    """
    if value is None:
        return None
    return _hashed_text(vendor, field, str(value), None if country is None else str(country))


@lru_cache(maxsize=131072)
def _hashed_text(vendor: str, field: str, value: str, country: str | None) -> str | None:
    text = value.strip().lower()
    if is_sha256_hex(text):
        return text
    normalized = normalize(vendor, field, value, country)
    return sha256_hex(normalized) if normalized else None
