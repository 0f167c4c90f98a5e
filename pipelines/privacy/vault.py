"""Identifiers kept for pending destination steps, Fernet-encrypted with `privacy.encryption_key`.

Why: a deletion that a vendor could not take yet (429 for an hour, an outage) must be
retried with the identifiers the warehouse no longer holds. They stay encrypted in
`cdp.privacy_requests.identifiers_encrypted` until every step succeeded, then the column is
cleared and only hashes remain, so the audit does not keep the data it deleted.
"""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from headwater.config import ConfigError, HeadwaterConfig

KEY_HINT = ("privacy.encryption_key is not set: a deletion with destination steps keeps the identifiers "
            "encrypted until every step succeeds; generate a key with `headwater privacy keygen`, export it "
            "as HEADWATER_PRIVACY_KEY and set `privacy: {encryption_key: ${HEADWATER_PRIVACY_KEY}}`")


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(config: HeadwaterConfig) -> Fernet:
    key = config.privacy.encryption_key
    if key is None or not key.get_secret_value():
        raise ConfigError(KEY_HINT)
    try:
        return Fernet(key.get_secret_value().encode())
    except ValueError:
        raise ConfigError("privacy.encryption_key: not a Fernet key (32 url-safe base64-encoded bytes); "
                          "generate one with `headwater privacy keygen`") from None


def seal(config: HeadwaterConfig, payload: Any) -> str:
    return _fernet(config).encrypt(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)).decode()


def unseal(config: HeadwaterConfig, token: str) -> Any:
    try:
        return orjson.loads(_fernet(config).decrypt(token.encode()))
    except InvalidToken:
        raise ConfigError("privacy.encryption_key: cannot decrypt the pending identifiers with this key; "
                          "use the key that was set when the request ran") from None
