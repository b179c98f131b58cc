"""The sd-turbo generator's real loading code, on the same model classes with random weights."""

from __future__ import annotations

import socket
import time

import pytest
import torch

from ptcodec.errors import GeneratorError
from ptcodec.generators.sd_turbo import SDTurboGenerator
from ptcodec.process.noise import initial_noise
from tests.test_generators_onestep import tiny_unet


def tiny_taesd():
    from diffusers import AutoencoderTiny

    torch.manual_seed(1)
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4,
    ).eval()


def tiny_kl():
    """The full SD VAE's class (AutoencoderKL), tiny widths."""
    from diffusers import AutoencoderKL

    torch.manual_seed(2)
    return AutoencoderKL(
        block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4, sample_size=16,
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


def _no_network(monkeypatch, error=AssertionError):
    """Every way out to the network raises `error`; any retry wait fails the test."""
    def refuse(*args, **kwargs):
        raise error("network access attempted")

    def no_wait(seconds):
        raise AssertionError(f"waited {seconds} s (a retry)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(time, "sleep", no_wait)


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return cache


def _assert_says_how_to_get_the_weights(message):
    assert "\n" not in message and "huggingface-cli" not in message
    assert "hf download stabilityai/sd-turbo unet/config.json unet/diffusion_pytorch_model.safetensors" in message
    assert "--unet DIR" in message and "config.json" in message


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_missing_weights_offline_give_one_clear_error_no_network_no_retry(
    empty_hf_cache, tmp_path, monkeypatch, capfd, how
):
    _no_network(monkeypatch)
    if how == "environment":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GeneratorError) as info:
        SDTurboGenerator.load(offline=True if how == "argument" else None)
    _assert_says_how_to_get_the_weights(str(info.value))
    assert "offline" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GeneratorError, match=f"directory {empty} holds no config.json .*--unet DIR"):
        SDTurboGenerator.load(str(empty), offline=True if how == "argument" else None)
    assert capfd.readouterr().err == ""  # no unrelated warnings


def test_missing_weights_without_a_network_fail_at_once_with_no_retry(empty_hf_cache, monkeypatch, capfd):
    """Not offline, but nothing answers: one attempt, then the same advice (no 23 s of retries)."""
    _no_network(monkeypatch, error=OSError)
    with pytest.raises(GeneratorError, match="cannot be reached") as info:
        SDTurboGenerator.load()
    _assert_says_how_to_get_the_weights(str(info.value))
    assert capfd.readouterr().err == ""


def test_the_vae_class_comes_from_its_config_not_its_folder_name(saved, tmp_path):
    """A TAESD saved in a folder called `vae` is a TAESD (it used to load as a random AutoencoderKL)."""
    from diffusers import AutoencoderKL, AutoencoderTiny

    tiny_taesd().save_pretrained(tmp_path / "vae")
    gen = SDTurboGenerator.load(str(saved / "sd-turbo"), str(tmp_path / "vae"), offline=True)
    assert type(gen.vae) is AutoencoderTiny
    assert gen.fingerprint() == SDTurboGenerator(tiny_unet(), tiny_taesd()).fingerprint()
    kl = tiny_kl()
    kl.save_pretrained(tmp_path / "taesd-but-not")
    gen = SDTurboGenerator.load(str(saved / "sd-turbo"), str(tmp_path / "taesd-but-not"), offline=True)
    assert type(gen.vae) is AutoencoderKL
    assert gen.fingerprint() == SDTurboGenerator(tiny_unet(), kl).fingerprint()


def test_a_hub_id_in_the_cache_loads_by_its_config_with_no_network(saved, empty_hf_cache, monkeypatch):
    """The Hugging Face cache layout: models--ORG--NAME/refs/main names a snapshot folder."""
    from diffusers import AutoencoderTiny

    repo = empty_hf_cache / "models--someone--decoder"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    tiny_taesd().save_pretrained(repo / "snapshots" / ("0" * 40))
    _no_network(monkeypatch)
    gen = SDTurboGenerator.load(str(saved / "sd-turbo"), "someone/decoder")
    assert type(gen.vae) is AutoencoderTiny


def _change_weights(folder, drop=None, add=None, reshape=None):
    from safetensors.torch import load_file, save_file

    path = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(path)
    if drop:
        del state[next(k for k in sorted(state) if drop in k)]
    if add:
        state[add] = torch.zeros(1)
    if reshape:
        state[next(k for k in sorted(state) if reshape in k)] = torch.zeros(3)
    save_file(state, path)


@pytest.mark.parametrize(
    "part, change, why",
    [
        ("vae", {"drop": "decoder"}, "1 missing keys .*refusing weights that do not load completely"),
        ("unet", {"drop": "conv_in"}, "1 missing keys .*refusing weights that do not load completely"),
        ("unet", {"add": "extra.weight"}, "1 unexpected keys .*refusing weights that do not load completely"),
        ("vae", {"reshape": "encoder"}, "size mismatch"),
    ],
)
def test_weights_that_do_not_load_completely_are_refused(saved, tmp_path, part, change, why):
    import shutil

    unet, vae = tmp_path / "unet", tmp_path / "vae"
    shutil.copytree(saved / "sd-turbo" / "unet", unet)
    shutil.copytree(saved / "taesd", vae)
    _change_weights(unet if part == "unet" else vae, **change)
    with pytest.raises(GeneratorError, match=why) as info:
        SDTurboGenerator.load(str(unet), str(vae), offline=True)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_a_config_of_another_class_is_refused(saved):
    with pytest.raises(GeneratorError, match="describes a 'AutoencoderTiny'; the UNet must be one of UNet2DCondition"):
        SDTurboGenerator.load(str(saved / "taesd"), str(saved / "taesd"), offline=True)


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


class _Hub:
    """A stand-in for the Hugging Face hub on 127.0.0.1: HEAD and GET of
    /REPO/resolve/main/FILE with the headers huggingface_hub reads."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import hashlib
        import http.server
        import threading

        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body: bool) -> None:
                hub.requests.append(self.path)
                data = files.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", "1" * 40)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):  # noqa: N802 - http.server's names
                self._answer(body=False)

            def do_GET(self):  # noqa: N802
                self._answer(body=True)

            def log_message(self, *args):
                pass

        self.requests: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _repo_files(repo: str, folder, sub: str = "") -> dict[str, bytes]:
    prefix = f"/{repo}/resolve/main/{sub + '/' if sub else ''}"
    return {prefix + p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_hub_id_not_in_the_cache_is_downloaded_then_loaded(saved, tmp_path):
    """Online, the UNet of an sd-turbo-like repo (in unet/) and a VAE repo (at its root,
    with a name that says nothing) are fetched and loaded by their configs' classes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    hub = _Hub({**_repo_files("org/turbo", saved / "sd-turbo" / "unet", "unet"),
                **_repo_files("org/decoder", saved / "taesd")})
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "cache"), HF_HUB_DISABLE_XET="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("HF_HUB_OFFLINE", None)
    script = ("from ptcodec.generators.sd_turbo import SDTurboGenerator\n"
              "g = SDTurboGenerator.load('org/turbo', 'org/decoder')\n"
              "print(type(g.unet).__name__, type(g.vae).__name__, g.fingerprint().hex())\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    finally:
        hub.server.shutdown()
    assert done.returncode == 0 and done.stderr == "", done.stderr
    expected = SDTurboGenerator(tiny_unet(), tiny_taesd()).fingerprint().hex()
    assert done.stdout.split() == ["UNet2DConditionModel", "AutoencoderTiny", expected]
    assert "/org/turbo/resolve/main/unet/diffusion_pytorch_model.safetensors" in hub.requests
    assert "/org/decoder/resolve/main/vae/config.json" not in hub.requests  # found at the root first
