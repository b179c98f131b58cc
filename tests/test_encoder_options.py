"""The encoder's two option objects (ptcodec/encoder/options.py): how they are built from flat
settings, what they refuse, and the metadata they describe."""

from __future__ import annotations

import json

import pytest

from ptcodec.encoder.options import FitOptions, StreamOptions, describe, split_settings
from ptcodec.errors import PtcodecError
from ptcodec.ptv import QuantScheme

METADATA_0_1_0 = (
    '{"alpha": 0.8, "c_penalty": 0.0, "crc": true, "first_steps": null, "gamma": [95, 100], "interp_rule": 0, '
    '"interval": 10, "latent_dtype": 0, "later_steps": null, "lr": null, "max_scene_length": null, '
    '"noise_seed": 88, "patience": 40, "perceptual": "msssim", "perceptual_weights": null, '
    '"prev_latent_rule": 0, "quality": "default", "rank": 8, "ranks": [8], "recipe": "ptcodec", '
    '"scene_threshold": 0.5, "seed": 0, "smoothing": 0.0, "target_psnr": null, "warm_start": true}'
)
"""The encoder-options metadata ptcodec 0.1.0 wrote for the defaults (from its EncoderOptions, before the
options were split): the split must not change a stream's bytes."""


def test_the_defaults_describe_what_the_single_options_object_did():
    assert json.dumps(describe(StreamOptions(), FitOptions(), "msssim"), sort_keys=True) == METADATA_0_1_0


def test_one_rank_and_a_ladder_are_one_option():
    assert split_settings({"rank": 4})[0].ranks == (4,)
    stream, _ = split_settings({"ranks": [16, 4, 8, 4]})
    assert (stream.rank, stream.rank_ladder, stream.quant_scheme) == (16, (4, 8, 16), QuantScheme.PER_COMPONENT)
    assert StreamOptions(ranks=(8,)).quant_scheme == QuantScheme.PER_TENSOR
    assert split_settings({"rank": None, "ranks": (2, 4)})[0].ranks == (2, 4)  # argparse's unset --rank
    with pytest.raises(PtcodecError, match="either a rank or a rank ladder"):
        split_settings({"rank": 4, "ranks": (2, 4)})


def test_each_setting_goes_to_its_own_object():
    stream, fit = split_settings({"interval": 3, "quality": "fast", "crc": False, "lr": 0.05, "gamma": [80, 100]})
    assert stream == StreamOptions(interval=3, crc=False, gamma=(80, 100))
    assert fit == FitOptions(quality="fast", lr=0.05)
    with pytest.raises(PtcodecError, match="unknown encoder settings: colour"):
        split_settings({"colour": "blue"})


def test_none_is_the_default_except_where_none_is_a_value():
    stream, fit = split_settings({"ranks": None, "interval": None, "lr": None, "scene_threshold": None})
    assert stream.ranks == StreamOptions().ranks and stream.interval == 10 and fit.lr is None
    assert stream.scene_threshold is None  # no scene-cut detection
