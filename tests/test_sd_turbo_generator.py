"""The sd-turbo generator's real loading code, on the same model classes with random weights."""

from __future__ import annotations

import socket

import pytest
import torch

from ptcodec.errors import GeneratorError
from ptcodec.generators.onestep import initial_noise
from ptcodec.generators.sd_turbo import SDTurboGenerator
from tests.test_onestep_math import tiny_unet


def tiny_taesd():
    from diffusers import AutoencoderTiny

    torch.manual_seed(1)
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4,
    ).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    tiny_unet().save_pretrained(root / "sd-turbo" / "unet")
    tiny_taesd().save_pretrained(root / "taesd")
    return root


def test_local_directories_load_and_keep_the_fingerprint(saved):
    a = SDTurboGenerator.load(str(saved / "sd-turbo"), str(saved / "taesd"), offline=True)
    b = SDTurboGenerator(tiny_unet(), tiny_taesd())
    assert len(a.fingerprint()) == 32 and a.fingerprint() == b.fingerprint()


def test_fingerprint_changes_when_any_single_weight_changes():
    unet, vae = tiny_unet(), tiny_taesd()
    base = SDTurboGenerator(unet, vae).fingerprint()
    for model in (unet, vae):
        name, param = list(model.named_parameters())[-1]
        with torch.no_grad():
            param.view(-1)[0] += 1e-3
        assert SDTurboGenerator(unet, vae).fingerprint() != base, name
        with torch.no_grad():
            param.view(-1)[0] -= 1e-3


def test_missing_weights_offline_give_one_clear_error_and_no_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(GeneratorError) as info:
        SDTurboGenerator.load(offline=True)
    message = str(info.value)
    assert "stabilityai/sd-turbo" in message and "huggingface-cli download" in message and "--unet" in message
    assert "\n" not in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GeneratorError, match=f"directory {empty}"):
        SDTurboGenerator.load(str(empty), offline=True)


def test_gradient_reaches_the_low_rank_factors():
    gen = SDTurboGenerator(tiny_unet(), tiny_taesd())
    u = torch.rand(77, 4, requires_grad=True)
    v = torch.rand(4, 1024, requires_grad=True)
    noise = torch.from_numpy(initial_noise(88, (1, 4, 8, 8)))
    frames, latent = gen.generate(noise, (u @ v / 2.0)[None])
    assert frames.shape == (1, 3, 64, 64) and latent.shape == (1, 4, 8, 8)
    assert frames.min() >= -1 and frames.max() <= 1
    loss = ((frames - 0.3) ** 2).mean()
    loss.backward()
    for g in (u.grad, v.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_scene_init_latent_has_the_latent_shape():
    gen = SDTurboGenerator(tiny_unet(), tiny_taesd())
    latent = gen.encode_latent(torch.zeros(2, 3, 64, 64))
    assert latent.shape == (2, 4, 8, 8)


def test_registry_loads_by_id_and_refuses_unknown_ids(saved):
    from ptcodec.generators import available_generators, load_generator

    gen = load_generator("sd-turbo", unet=str(saved / "sd-turbo"), vae=str(saved / "taesd"), offline=True)
    assert gen.id == "sd-turbo" and "sd-turbo" in available_generators()
    with pytest.raises(GeneratorError, match="'wan-2' is not available; this ptcodec has: .*sd-turbo"):
        load_generator("wan-2")
