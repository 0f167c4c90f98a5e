"""The identity section of headwater.yml: defaults, merging, and errors that name the key and the fix."""

from __future__ import annotations

import pytest

from headwater.config import ConfigError, parse_config


def identity(section: dict):
    return parse_config({"identity": section}).identity


def test_a_type_named_in_the_file_keeps_its_other_defaults():
    config = identity({"id_types": {"email": {"limit": 2}, "loyalty_id": {"limit": 1}}})
    assert (config.id_types["email"].limit, config.id_types["email"].normalize) == (2, "email")
    assert config.id_types["phone"].normalize == "phone"
    assert config.rank("user_id") == 1 and config.rank("loyalty_id") == len(config.priority)  # unlisted: last


@pytest.mark.parametrize("section, message", [
    ({"default_country": "XX"}, "identity.default_country: Value error, 'XX' is not a phone region"),
    ({"blocked_values": ["(unclosed"]}, "identity.blocked_values: Value error, '(unclosed' is not a valid regular"),
    ({"blocked_values": ["^(?!ok)"]}, "uses lookaround or a backreference"),
    ({"priority": ["email", "email"]}, "priority lists ['email'] more than once"),
    ({"priority": ["fax"]}, "priority names unknown id types ['fax']; add them under id_types or remove them"),
    ({"id_types": {"email": {"limit": 0}}}, "identity.id_types.email.limit: Input should be greater than or equal to 1"),
    ({"id_types": {"Email": {}}}, "id type 'Email' must be lowercase letters"),
    ({"max_component_size": 1}, "identity.max_component_size: Input should be greater than or equal to 2"),
])
def test_bad_identity_settings_name_the_key_and_the_fix(section, message):
    with pytest.raises(ConfigError) as raised:
        parse_config({"identity": section})
    assert message in str(raised.value)


def test_phone_default_country_is_the_one_the_synthetic_truth_assumes():
    from headwater.phones import DEFAULT_COUNTRY
    from models.config import IdentityConfig

    assert IdentityConfig().default_country == DEFAULT_COUNTRY
