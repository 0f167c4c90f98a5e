"""Take secrets out of text in every form they travel in.

Why more than `str.replace`: a secret leaves in the shapes its protocol gives it. An OAuth
refresh token is form-encoded (`1%2F%2F0g...`), an API key rides in a URL's query, Mixpanel,
Amplitude and Mailchimp send Basic auth (base64 of `user:secret`, where the user part may be
anything), and a JSON error body escapes `/` and `"`. A vendor that echoes the request back
in its error puts any of these into our logs, `cdp.sync_errors` or a privacy step, so each
must be recognized.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import orjson

MASK = "***"
MIN_SECRET_LENGTH = 4
# runs of base64 (standard or URL-safe alphabet) long enough to hide a secret of MIN_SECRET_LENGTH
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def spellings(secret: str) -> set[str]:
    """The forms one secret takes in text: plain, URL-encoded (either case of %xx), JSON-escaped."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in list(forms)}
    forms.add(orjson.dumps(secret).decode()[1:-1])
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Every registered secret out of a text, in every spelling, and inside base64."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._forms = sorted({form for s in self.secrets for form in spellings(s)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not self.secrets or not text:
            return text
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return _BASE64_RUN.sub(self._base64_hiding_secret, text)

    def _base64_hiding_secret(self, match: re.Match) -> str:
        token = match.group(0)
        decoded = _decode(token)
        if decoded and any(secret in decoded for secret in self.secrets):
            return MASK
        return token


def _decode(token: str) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(padded).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return None


def redact(text: str, secrets: Iterable[str]) -> str:
    return Redactor(secrets)(text)


def secret_values(model) -> list[str]:
    """Every SecretStr value of a pydantic model (a source or destination entry), nested included."""
    from pydantic import BaseModel, SecretStr

    found: list[str] = []
    for value in model.__dict__.values():
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found += secret_values(value)
    return found
