"""One way to build a venue config: typed, per-venue options with defaults, typos refused."""

from __future__ import annotations

import pytest

from obview.cli import demo_configs
from obview.screenshots import SHOTS
from obview.venues import VENUES, VenueConfig, config, options_type
from obview.venues.bthub.options import DEFAULT_URL, BthubOptions
from obview.venues.futu.options import FutuOptions
from obview.venues.loopring.options import LoopringOptions


def test_each_venue_has_its_options_type_and_defaults():
    assert [options_type(v) for v in VENUES] == [FutuOptions, LoopringOptions, BthubOptions]
    assert VenueConfig("futu", ["HK.00700"]).options == FutuOptions()
    assert config("futu", ["HK.00700"]).options.port == 11111
    assert config("loopring", ["LRC-ETH"], level=2).options == LoopringOptions(level=2)
    assert config("bthub", ["BTCUSDT"]).options.url == DEFAULT_URL


def test_a_misspelt_setting_or_a_loose_dict_is_refused():
    with pytest.raises(TypeError):
        config("loopring", ["LRC-ETH"], levle=2)
    with pytest.raises(TypeError, match="LoopringOptions"):
        VenueConfig("loopring", ["LRC-ETH"], options={"level": 2})
    with pytest.raises(TypeError, match="FutuOptions"):
        VenueConfig("futu", ["HK.00700"], options=LoopringOptions())


def test_secrets_stay_out_of_a_configs_repr():
    cfg = config("bthub", ["BTCUSDT"], user="alice", password="hunter2-secret")
    lr = config("loopring", ["LRC-ETH"], api_key="key-secret-123")
    assert "hunter2-secret" not in repr(cfg) and "key-secret-123" not in repr(lr)


def test_demo_and_screenshots_build_typed_configs():
    configs = demo_configs() + [cfg for shot in SHOTS for cfg in shot.configs]
    assert configs and all(isinstance(c.options, options_type(c.venue)) for c in configs)
