"""What a stream exercises, as feature names: the link from the vectors to the spec's requirements.

`features` names what a stream exercises (a unit type, a rule value, a rank
change...); each valid vector's test.json records them, and the coverage
report maps the spec's requirements to vectors through them, so a claim of
coverage is computed from the streams, not typed in. The vocabulary is listed
in conformance/README.md.
"""

from __future__ import annotations

import math
from itertools import pairwise

from ptcodec.process.conditioning import plan_frames
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED
from ptcodec.ptv import (
    Keyframe,
    Metadata,
    Padding,
    ReservedUnit,
    SceneInit,
    SequenceHeader,
    UnitRecord,
)
from ptcodec.ptv.levels import LEVELS

SMALLEST_NORMAL = 2.0**-126
"""The smallest normal binary32; a positive scale below it is subnormal."""


def coding_feature(k: Keyframe) -> str:
    """How a coded keyframe is coded (version 1.1, spec 7.5)."""
    if k.predicted and k.carry_models:
        return "keyframe.coding=predicted+carry_models"
    if k.predicted:
        return "keyframe.coding=predicted"
    return "keyframe.coding=carry_models" if k.carry_models else "keyframe.coding=intra"


def features(header: SequenceHeader, records: list[UnitRecord]) -> list[str]:
    """What a stream exercises, as feature names (the vocabulary is listed in conformance/README.md)."""
    out = {
        f"header.crc_present={int(header.crc_present)}",
        f"header.prev_latent_rule={header.prev_latent_rule}",
        f"header.interp_rule={header.interp_rule}",
        f"header.noise_rule={header.noise_rule}",
        f"header.quant_schemes={header.quant_schemes}",
        f"header.level={header.level}",
        f"header.generator_id={header.generator_id}",
        "header.frame_count=0" if header.frame_count == 0 else "header.frame_count>0",
        "header.fingerprint=unrecorded" if not any(header.generator_fingerprint) else "header.fingerprint=recorded",
    }
    if header.version_minor > 0:
        out.add("header.version_minor>0")
    if header.extension_data:
        out.add("header.extension_data")
    if (header.gamma_num, header.gamma_den) != RELEASED_GAMMA:
        out.add("header.gamma=other")
    if header.noise_seed != RELEASED_SEED:
        out.add("header.noise_seed=other")
    if header.time_base_num != 1:
        out.add("header.time_base_num>1")
    keyframes = [r.unit for r in records if isinstance(r.unit, Keyframe)]
    scenes = [r.unit for r in records if isinstance(r.unit, SceneInit)]
    seen_frame = False
    scene_keyframes = 0
    for record in records:
        unit = record.unit
        if record.layer_id is not None:
            out.add("unit.layer_id")
        if isinstance(unit, (SceneInit, Keyframe)):
            seen_frame = True
        if isinstance(unit, Metadata):
            out.add("unit.metadata")
            out.add("metadata.entries=0" if not unit.entries else "metadata.entries>0")
            out.add("metadata.in_temporal_unit" if seen_frame else "metadata.leading")
        elif isinstance(unit, Padding):
            out.add("unit.padding")
            out.add("padding.empty" if unit.size == 0 else "padding.nonempty")
        elif isinstance(unit, ReservedUnit):
            out.add(f"unit.reserved_type={unit.unit_type}")
            out.add("unit.reserved")
        elif isinstance(unit, SceneInit):
            out.add(f"scene_init.dtype={unit.dtype}")
            scene_keyframes = 0
        elif isinstance(unit, Keyframe):
            out.add(f"keyframe.quant_scheme={unit.quant_scheme}")
            if unit.coded:
                out.add(coding_feature(unit))
                if scene_keyframes == 0 and len(scenes) > 1 and unit.frame_index > 0:
                    out.add("keyframe.coded_scene_restart")
            scene_keyframes += 1
            out.add(f"keyframe.rank={unit.rank}")
            if unit.rank == LEVELS[header.level].max_rank:
                out.add("keyframe.rank=level_max")
            for scale in (*unit.u_scale, *unit.v_scale):
                if scale == 0 and math.copysign(1.0, scale) < 0:
                    out.add("keyframe.scale=-0")
                elif 0 < scale < SMALLEST_NORMAL:
                    out.add("keyframe.scale=subnormal")
    if not keyframes:
        out.add("stream.no_frames")
    if len(scenes) > 1:
        out.add("stream.scenes>1")
    intervals = {b.frame_index - a.frame_index for a, b in pairwise(keyframes)}
    out.update("stream.interval=1" if i == 1 else "stream.interval>1" for i in intervals)
    if len({k.rank for k in keyframes}) > 1:
        out.add("stream.ranks_differ")
    if keyframes:
        plans = plan_frames([s.frame_index for s in scenes], [k.frame_index for k in keyframes], header.frame_count,
                            header.prev_latent_rule)
        ranks = {k.frame_index: k.rank for k in keyframes}
        for plan in plans:
            if plan.right is not None:
                out.add("frame.between_keyframes")
                out.add("frame.between_ranks_differ" if ranks[plan.left] != ranks[plan.right] else
                        "frame.between_ranks_equal")
            elif plan.frame != plan.left:
                out.add("frame.holds_keyframe")
                if plan.left == keyframes[-1].frame_index:
                    out.add("frame.after_last_keyframe")
                else:
                    out.add("frame.after_scene_last_keyframe")
    return sorted(out)
