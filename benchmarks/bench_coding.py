"""Bitstream 1.1's coding tools (issue 14): bytes saved and speed.

- Sky import (the authors' released prompts, when ../shared/data is present): bytes per
  unit kind and in all, as imported (1.0), recoded with the lossless tools alone
  (`ptcodec recode --coding 1.1`), then with the u8-coded scene-init latent (8 and 6 bits).
- Speed: the entropy coder's encode and decode throughput on realistic factor codes (MB of
  8-bit codes per second), and the parse throughput of a synthetic 1-hour stream of coded
  keyframes against the same stream uncoded (the target: at least 20 MB/s).

    python benchmarks/bench_coding.py [--minutes 60] [--out benchmarks/results/coding.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_bitstream import SKY, synthetic_header

from ptcodec.entropy import factors
from ptcodec.jobs.recode import recode_file
from ptcodec.ptv import Keyframe, PtvReader, PtvWriter, SceneInit
from ptcodec.ptv.coding import FactorCoding
from ptcodec.ptv.summary import summarize
from ptcodec.ptv.syntax import LatentDtype, QuantScheme

TOKENS, EMBED, RANK = 77, 1024, 8


def kinds(path: str) -> dict:
    with PtvReader(path) as reader:
        s = summarize(reader.header, reader.units())
    return {"total": s.total_bytes,
            "by_kind": {name: dataclasses.asdict(k) for name, k in s.by_kind.items()}}


def sky_bytes(tmp: str) -> dict | None:
    if not SKY.is_dir():
        return None
    from ptcodec.interop.promptus import import_promptus

    paths = {name: os.path.join(tmp, f"sky_{name}.ptv") for name in ("1.0", "1.1", "1.1_u8c8", "1.1_u8c6")}
    import_promptus(SKY, os.path.join(tmp, "sky_import.ptv"))
    recode_file(os.path.join(tmp, "sky_import.ptv"), paths["1.0"], "1.0")
    recode_file(paths["1.0"], paths["1.1"], "1.1")
    recode_file(paths["1.0"], paths["1.1_u8c8"], "1.1", latent="u8-coded", latent_bits=8)
    recode_file(paths["1.0"], paths["1.1_u8c6"], "1.1", latent="u8-coded", latent_bits=6)
    out = {name: kinds(path) for name, path in paths.items()}
    base = out["1.0"]
    for r in out.values():
        r["saving_percent"] = 100 * (1 - r["total"] / base["total"])
        k = r["by_kind"]["keyframe"]
        r["factor_code_saving_percent"] = 100 * (1 - k["stored_content"] / k["raw_content"])
    return out


def realistic_keyframes(count: int = 16) -> list[Keyframe]:
    """The sky keyframes with about one code in five moved by one (a fitted stream's
    neighbours), or Gaussian codes with the sky's spread when the shared data is absent."""
    rng = np.random.default_rng(0)
    if SKY.is_dir():
        from ptcodec.interop.promptus import _keyframe, read_promptus_dir

        _, prompts = read_promptus_dir(SKY)
        base = [_keyframe(i, p) for i, p in prompts]
    else:
        base = [Keyframe(0, RANK, 0, (0.01,), (128.0,), (0.02,), (128.0,),
                         np.clip(np.rint(rng.normal(128, 18, TOKENS * RANK)), 0, 255).astype(np.uint8).tobytes(),
                         np.clip(np.rint(rng.normal(128, 18, RANK * EMBED)), 0, 255).astype(np.uint8).tobytes())]
    out = []
    for i in range(count):
        k = base[i % len(base)]
        moved = [np.clip(a.astype(np.int64) + rng.integers(-1, 2, a.shape) * (rng.random(a.shape) < 0.2), 0, 255)
                 .astype(np.uint8).tobytes() for a in (k.u_codes(), k.v_codes())]
        out.append(dataclasses.replace(k, u=moved[0], v=moved[1]))
    return out


def coder_speed(pool: list[Keyframe], seconds: float = 2.0) -> dict:
    """MB of 8-bit factor codes per second through factors.encode and factors.decode (intra)."""
    arrays = []
    for k in pool:
        cu = np.full((TOKENS, k.rank), np.rint(k.u_zero_point[0]))
        cv = np.full((k.rank, EMBED), np.rint(k.v_zero_point[0]))
        arrays.append((k.u_codes(), k.v_codes(), cu, cv))
    coded = [factors.encode(u, v, cu, cv, False, factors.new_model()) for u, v, cu, cv in arrays]  # compiles
    factors.decode(coded[0], arrays[0][2], arrays[0][3], False, factors.new_model())
    raw = sum(u.size + v.size for u, v, _, _ in arrays)
    result = {"raw_bytes_per_round": raw, "coded_bytes_per_round": sum(map(len, coded))}
    for name, step in (("encode", lambda i: factors.encode(*arrays[i][:4], False, factors.new_model())),
                       ("decode", lambda i: factors.decode(coded[i], arrays[i][2], arrays[i][3], False,
                                                           factors.new_model()))):
        rounds, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for i in range(len(arrays)):
                step(i)
            rounds += 1
        result[f"{name}_MB_per_s"] = rounds * raw / 1e6 / (time.perf_counter() - start)
    return result


def hour_stream(tmp: str, pool: list[Keyframe], minutes: float, coded: bool, interval: int = 10) -> dict:
    """Write then parse a one-scene stream of `minutes` at 30 fps, a keyframe every `interval` frames,
    cycling through `pool` (coded: intra, each coded once beforehand, so writing costs one decode each)."""
    frames = int(minutes * 60 * 30)
    header = synthetic_header(frames, crc=False)
    scheme = QuantScheme.PER_TENSOR_CODED if coded else QuantScheme.PER_TENSOR
    header = dataclasses.replace(header, quant_schemes=1 << scheme, version_minor=1 if coded else 0)
    coding = FactorCoding(header)
    units = [dataclasses.replace(k, quant_scheme=int(scheme)) for k in pool]
    if coded:
        units = [coding.encode(k, predicted=False, carry_models=False) for k in units]
    latent = np.random.default_rng(1).standard_normal((1, 4, 64, 64)).astype(np.float32)
    path = os.path.join(tmp, f"hour_{'coded' if coded else 'raw'}.ptv")
    start = time.perf_counter()
    with PtvWriter(path, header) as writer:
        writer.write(SceneInit.from_latent(0, latent, LatentDtype.U8_CODED if coded else LatentDtype.F32))
        for i, frame in enumerate(range(0, frames, interval)):
            writer.write(dataclasses.replace(units[i % len(units)], frame_index=frame))
    build_s = time.perf_counter() - start
    size = os.path.getsize(path)
    start = time.perf_counter()
    with PtvReader(path) as reader:
        parsed = sum(1 for _ in reader.units())
    parse_s = time.perf_counter() - start
    os.remove(path)
    keyframes = len(range(0, frames, interval))
    return {"coded": coded, "minutes": minutes, "keyframes": keyframes, "units": parsed, "bytes": size,
            "build_s": build_s, "parse_s": parse_s, "parse_MB_per_s": size / 1e6 / parse_s,
            "parse_keyframes_per_s": keyframes / parse_s,
            "parse_raw_code_MB_per_s": keyframes * RANK * (TOKENS + EMBED) / 1e6 / parse_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "coding.json"))
    args = parser.parse_args()
    pool = realistic_keyframes()
    with tempfile.TemporaryDirectory() as tmp:
        results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                   "codes": "sky keyframes, 1 code in 5 moved by 1" if SKY.is_dir() else "Gaussian, std 18",
                   "sky_import": sky_bytes(tmp), "coder": coder_speed(pool),
                   "parse": [hour_stream(tmp, pool, args.minutes, coded) for coded in (False, True)]}
    sky = results["sky_import"]
    if sky:
        for name, r in sky.items():
            parts = ", ".join(f"{kind} {k['total']:,}" for kind, k in r["by_kind"].items())
            print(f"sky {name:>9}: {r['total']:>8,} bytes ({r['saving_percent']:5.1f}% saved; factor codes "
                  f"{r['factor_code_saving_percent']:.1f}% smaller) = {parts}")
    c = results["coder"]
    print(f"coder: encode {c['encode_MB_per_s']:.1f} MB/s, decode {c['decode_MB_per_s']:.1f} MB/s of 8-bit codes "
          f"({c['raw_bytes_per_round']:,} -> {c['coded_bytes_per_round']:,} bytes)")
    for r in results["parse"]:
        print(f"{r['minutes']:g} min {'coded' if r['coded'] else 'raw  '}: {r['bytes'] / 1e6:.1f} MB, parse "
              f"{r['parse_MB_per_s']:.1f} MB/s ({r['parse_keyframes_per_s']:.0f} keyframes/s, "
              f"{r['parse_raw_code_MB_per_s']:.1f} MB/s of raw codes), build {r['build_s']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
