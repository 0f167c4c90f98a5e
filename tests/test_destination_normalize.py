"""Per-vendor normalization and hashing, checked against the vendors' own SDKs and examples.

Oracles: facebook-business's `Normalize` (what Meta's SDK hashes) and
google-ads-datamanager-util's `Formatter` (Google's normalization for Data Manager).
"""

from __future__ import annotations

import hashlib

import pytest
from facebook_business.adobjects.serverside.normalize import Normalize
from google.ads.datamanager_util import Formatter
from google.ads.datamanager_util.format import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from destinations.normalize import e164, hashed, is_sha256_hex, normalize

META_FIELDS = {"email": "em", "first_name": "fn", "last_name": "ln", "city": "ct", "state": "st",
               "postal_code": "zp", "country": "country"}


@pytest.mark.parametrize("field,raw", [
    ("email", "  John_Smith@Example.COM "), ("first_name", " Mary "), ("last_name", "SMITH"),
    ("city", "Menlo Park"), ("city", "St. Louis"), ("state", " CA"), ("postal_code", "94025-1234"),
    ("postal_code", "SW1A 1AA"), ("country", "US"), ("email", "jane.doe+promo@gmail.com"),
])
def test_meta_hashes_match_the_facebook_business_sdk(field, raw):
    assert hashed("meta", field, raw) == Normalize.normalize_field(META_FIELDS[field], raw)


@pytest.mark.parametrize("raw,country", [("+1 (650) 253-0000", None), ("650-253-0000", "US"),
                                         ("+44 20 7031 3000", None), ("020 7031 3000", "GB")])
def test_meta_phone_is_digits_with_country_code_as_the_sdk_hashes_it(raw, country):
    ours = hashed("meta", "phone", raw, country)
    international = e164(raw, country or "US")  # the SDK needs the country code already present
    assert ours == Normalize.normalize_field("ph", international)
    assert normalize("meta", "phone", raw, country) == international[1:]


def test_meta_documented_example_email_hash():
    # Meta's customer-information docs: normalize then SHA-256, lowercase hex
    assert hashed("meta", "email", "Person@Example.com ") == hashlib.sha256(b"person@example.com").hexdigest()


FORMATTER = Formatter()


@pytest.mark.parametrize("raw", ["Jane.Doe+promo@GMail.com", " alex@example.com ", "a.b.c+x@googlemail.com",
                                 "first.last+tag@example.org"])
def test_google_email_hashes_match_the_data_manager_formatter(raw):
    assert hashed("google", "email", raw) == FORMATTER.process_email_address(raw, Encoding.HEX)


def test_google_drops_gmail_dots_and_tags_where_meta_does_not():
    assert normalize("google", "email", "Jane.Doe+promo@gmail.com") == "janedoe@gmail.com"
    assert normalize("meta", "email", "Jane.Doe+promo@gmail.com") == "jane.doe+promo@gmail.com"
    assert normalize("google", "email", "jane.doe+promo@example.com") == "jane.doe+promo@example.com"


@pytest.mark.parametrize("raw", ["+1 (650) 253-0000", "+44 20 7031 3000", "+49 30 303986300"])
def test_google_phone_hashes_match_the_formatter(raw):
    assert hashed("google", "phone", raw) == FORMATTER.process_phone_number(raw, Encoding.HEX)


def test_google_names_region_and_postal_code_match_the_formatter():
    assert hashed("google", "first_name", "  Émile ") == FORMATTER.process_given_name("  Émile ", Encoding.HEX)
    assert hashed("google", "last_name", "DOE") == FORMATTER.process_family_name("DOE", Encoding.HEX)
    assert normalize("google", "country", " us") == FORMATTER.process_region_code(" us")
    assert normalize("google", "postal_code", " 94025 ") == FORMATTER.process_postal_code(" 94025 ")


@settings(max_examples=200, deadline=None)
@given(user=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+]{0,15}", fullmatch=True),
       domain=st.sampled_from(["gmail.com", "GMAIL.com", "googlemail.com", "example.com", "mail.example.org"]))
def test_google_email_normalization_agrees_with_the_formatter_on_generated_addresses(user, domain):
    raw = f"{user}@{domain}"
    try:
        expected = FORMATTER.format_email_address(raw)
    except ValueError:
        assert normalize("google", "email", raw) is None
        return
    assert normalize("google", "email", raw) == expected


def test_unusable_identifiers_are_dropped_never_sent_raw():
    assert hashed("meta", "email", "not-an-email") is None
    assert hashed("google", "phone", "12") is None
    assert hashed("tiktok", "email", "") is None


def test_values_already_hashed_pass_through_unchanged():
    digest = hashlib.sha256(b"x@example.com").hexdigest()
    for vendor in ("meta", "google", "tiktok"):
        assert hashed(vendor, "email", digest.upper()) == digest
    assert is_sha256_hex(digest) and not is_sha256_hex(digest.upper())


def test_tiktok_hashes_email_lowercased_and_phone_in_e164_with_plus():
    assert hashed("tiktok", "email", " Person@Example.com") == hashlib.sha256(b"person@example.com").hexdigest()
    assert hashed("tiktok", "phone", "(650) 253-0000", "US") == hashlib.sha256(b"+16502530000").hexdigest()
