"""The destinations and syncs sections: precise errors naming the key at fault."""

from __future__ import annotations

import pytest

from headwater.config import ConfigError, parse_config


def test_a_config_without_destinations_or_syncs_stays_valid():
    config = parse_config({})
    assert config.destinations == [] and config.syncs == []


@pytest.mark.parametrize("raw,message", [
    ({"destinations": [{"name": "m", "type": "myspace"}]}, "type 'myspace' is not a destination type"),
    ({"destinations": [{"name": "m", "type": "meta_audience", "credentials": {"access_token": "x"}}]},
     "settings.audience_id: Field required"),
    ({"destinations": [{"name": "m", "type": "meta_audience", "settings": {"audience_id": "1"}}]},
     "credentials.access_token: Field required"),
    ({"syncs": [{"name": "s", "source": {"audience": "vip"}, "destination": "nowhere"}]},
     "destination 'nowhere' is not in the destinations section"),
    ({"syncs": [{"name": "s", "source": {"audience": "vip", "model": "cdp.x"}, "destination": "d"}]},
     "give exactly one of model"),
    ({"syncs": [{"name": "s", "source": {"audience": "vip"}, "destination": "d", "mode": "replace"}]},
     "syncs[0].mode"),
])
def test_bad_destination_or_sync_entries_name_the_field(raw, message):
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert message in str(error.value)


def test_credentials_come_from_the_environment_and_stay_secret(monkeypatch):
    monkeypatch.setenv("META_TOKEN", "tok-123456")
    config = parse_config({"destinations": [{"name": "m", "type": "meta_audience", "settings": {"audience_id": "1"},
                                             "credentials": {"access_token": "${META_TOKEN}"}}]})
    assert config.destinations[0].credentials["access_token"].get_secret_value() == "tok-123456"
    assert "tok-123456" not in repr(config)
