"""Bitstream throughput and framing overhead (issue 2's targets).

Builds a synthetic one-hour stream (rank 8, keyframe interval 10, 30 fps, the
SD-Turbo prompt shape 77x1024), writes it with PtvWriter, parses it back with
PtvReader, and scans its index; with CRCs off and on. Also measures the framing
overhead of the real sky import when the shared data is present.

    python benchmarks/bench_bitstream.py [--minutes 60] [--out benchmarks/results/bitstream.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from ptcodec.ptv import Keyframe, PtvReader, PtvWriter, SceneInit, SequenceHeader

SKY = Path(__file__).resolve().parents[2] / "shared" / "data" / "promptus_official" / "sky"


def synthetic_header(frames: int, crc: bool) -> SequenceHeader:
    return SequenceHeader(
        level=2, crc_present=crc, generator_id="sd-turbo", generator_fingerprint=bytes(32), width=512, height=512,
        time_base_num=1, time_base_den=30, frame_count=frames, tokens=77, embed_dim=1024, latent_channels=4,
        latent_downscale=8, noise_seed=88, gamma_num=95, gamma_den=100, prev_latent_rule=0, interp_rule=0,
        quant_schemes=1,
    )


def run(minutes: float, crc: bool, rank: int = 8, interval: int = 10) -> dict:
    frames = int(minutes * 60 * 30)
    header = synthetic_header(frames, crc)
    rng = np.random.default_rng(0)
    pool = [(rng.integers(0, 256, 77 * rank, dtype=np.uint8).tobytes(),
             rng.integers(0, 256, rank * 1024, dtype=np.uint8).tobytes()) for _ in range(16)]
    latent = rng.standard_normal((1, 4, 64, 64)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hour.ptv")
        start = time.perf_counter()
        with PtvWriter(path, header) as writer:
            writer.write(SceneInit.from_latent(0, latent))
            for i, frame in enumerate(range(0, frames, interval)):
                u, v = pool[i % len(pool)]
                writer.write(Keyframe(frame, rank, 0, (0.01,), (128.0,), (0.02,), (100.0,), u, v))
        build_s = time.perf_counter() - start
        size = os.path.getsize(path)
        units = writer.units_written

        start = time.perf_counter()
        with PtvReader(path) as reader:
            parsed = sum(1 for _ in reader.units())
        parse_s = time.perf_counter() - start

        start = time.perf_counter()
        with PtvReader(path) as reader:
            indexed = len(reader.index())
        index_s = time.perf_counter() - start
    assert parsed == units and indexed == units - 1
    mb = size / 1e6
    return {
        "crc": crc, "minutes": minutes, "rank": rank, "interval": interval, "bytes": size, "units": units,
        "build_s": build_s, "build_MB_per_s": mb / build_s, "build_units_per_s": units / build_s,
        "parse_s": parse_s, "parse_MB_per_s": mb / parse_s, "parse_units_per_s": units / parse_s,
        "index_s": index_s, "index_MB_per_s": mb / index_s,
    }


def sky_overhead() -> dict | None:
    if not SKY.is_dir():
        return None
    from ptcodec.interop.promptus import import_promptus

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sky.ptv")
        import_promptus(SKY, path)
        size = os.path.getsize(path)
    keyframes = len(list(SKY.glob("frame_*.prompt")))
    raw = keyframes * (8808 + 16) + 65536  # codes + 4 float32 scales/zero points each, + the init latent
    pickles = sum(p.stat().st_size for p in SKY.iterdir())
    return {"file_bytes": size, "raw_payload_bytes": raw, "overhead_bytes": size - raw,
            "overhead_percent": 100 * (size - raw) / raw, "pickle_bytes": pickles,
            "pickle_overhead_percent": 100 * (pickles - raw) / raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bitstream.json"))
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "streams": [run(args.minutes, crc) for crc in (False, True)], "sky_import": sky_overhead()}
    for r in results["streams"]:
        print(f"{r['minutes']:g} min, CRC {'on ' if r['crc'] else 'off'}: {r['bytes'] / 1e6:.1f} MB, {r['units']} units | "
              f"build {r['build_MB_per_s']:.1f} MB/s | parse {r['parse_MB_per_s']:.1f} MB/s "
              f"({r['parse_units_per_s']:.0f} units/s) | index {r['index_MB_per_s']:.0f} MB/s")
    sky = results["sky_import"]
    if sky:
        print(f"sky import: {sky['file_bytes']} bytes for {sky['raw_payload_bytes']} of payload: "
              f"{sky['overhead_percent']:.3f}% overhead (pickles: {sky['pickle_overhead_percent']:.1f}%)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
