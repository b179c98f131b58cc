"""`ptcodec truncate`: cut a rank-scalable stream to a lower rank, without the generator.

Per spec/ptv.md section 7.3: every per-component keyframe of a higher rank
keeps its first `rank` components; every other unit is copied unchanged. A coded
keyframe (scheme 2) is decoded, cut and coded anew, and so is every coded keyframe
after it: prediction and carried models refer to the keyframe before, which changed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ptcodec.errors import InputError
from ptcodec.outputs import check_output
from ptcodec.process.quant import truncate_keyframe
from ptcodec.ptv import Keyframe, PtvReader, PtvWriter, QuantScheme
from ptcodec.ptv.syntax import quant_layout


@dataclass
class TruncateResult:
    keyframes: int
    truncated: int
    bytes_in: int
    bytes_out: int


def truncate_file(source: str | os.PathLike[str], output: str | os.PathLike[str], rank: int) -> TruncateResult:
    if rank < 1:
        raise InputError(f"--rank must be at least 1, got {rank}")
    check_output(output, inputs=[source])
    keyframes = truncated = 0
    with PtvReader(source) as reader, PtvWriter(output, reader.header) as writer:
        for record in list(reader.units())[1:]:
            unit = record.unit
            if isinstance(unit, Keyframe):
                keyframes += 1
                if unit.rank > rank:
                    if quant_layout(unit.quant_scheme) != QuantScheme.PER_COMPONENT:
                        raise InputError(
                            f"{os.fspath(source)}: the keyframe of frame {unit.frame_index} (rank {unit.rank}) is "
                            "quantized per tensor and cannot be cut to a lower rank; only rank-scalable streams "
                            "(ptcodec transcode --ranks ...) can be truncated")
                    unit = truncate_keyframe(unit, rank)
                    truncated += 1
                elif unit.coded:  # coded anew: what it predicts from may have been cut
                    unit = dataclasses.replace(unit, predicted=False, carry_models=False, coded_factors=b"")
            writer.write(unit, layer_id=record.layer_id)
    return TruncateResult(keyframes, truncated, os.path.getsize(source), os.path.getsize(output))
