"""Levels: tables of limits a stream declares it stays within.

A decoder that supports a level can decode every stream of that level. The
same numbers bound every allocation the parser makes (spec/ptv.md, "Levels").
"""

from __future__ import annotations

from dataclasses import dataclass

from ptcodec.errors import LimitExceededError


@dataclass(frozen=True)
class Level:
    number: int
    max_picture_size: int
    """width * height, in pixels."""
    max_dimension: int
    max_rank: int
    max_tokens: int
    max_embed_dim: int
    max_latent_channels: int
    max_keyframe_rate: int
    """Keyframes in any one-second window."""
    max_unit_size: int
    """Payload bytes of any unit other than the sequence header."""
    max_frame_count: int
    """Frames of a stream: frame_count, or, when it is 0, the last keyframe's frame_index + 1."""
    max_frame_gap: int
    """Frames of one temporal unit: from a keyframe to the next one (or a scene start, which is
    a keyframe too), and from the last keyframe to frame_count."""


LEVELS: dict[int, Level] = {
    level.number: level
    for level in (
        Level(1, 65_536, 1_024, 16, 77, 1_024, 4, 30, 262_144, 1 << 21, 1_024),
        Level(2, 262_144, 2_048, 64, 77, 1_024, 4, 60, 1_048_576, 1 << 22, 2_048),
        Level(3, 1_048_576, 4_096, 128, 256, 2_048, 16, 120, 8_388_608, 1 << 23, 4_096),
        Level(4, 4_194_304, 8_192, 255, 512, 4_096, 16, 240, 33_554_432, 1 << 24, 8_192),
    )
}


def smallest_level(
    width: int, height: int, rank: int, tokens: int, embed_dim: int, latent_channels: int, keyframe_rate: float,
    frame_count: int = 0, frame_gap: int = 1,
) -> Level:
    """The lowest level whose limits admit a stream of these parameters (encoders call this).

    `frame_count` 0 is an unknown length (a live encode): it constrains nothing here, and the
    writer refuses a keyframe at max_frame_count. `frame_gap` is the longest temporal unit, in
    frames (the keyframe interval)."""
    for level in LEVELS.values():
        if (
            width * height <= level.max_picture_size
            and max(width, height) <= level.max_dimension
            and rank <= level.max_rank
            and tokens <= level.max_tokens
            and embed_dim <= level.max_embed_dim
            and latent_channels <= level.max_latent_channels
            and keyframe_rate <= level.max_keyframe_rate
            and frame_count <= level.max_frame_count
            and frame_gap <= level.max_frame_gap
        ):
            return level
    raise LimitExceededError(
        f"no level admits {width}x{height}, rank {rank}, {tokens}x{embed_dim} prompts, "
        f"{latent_channels} latent channels, {keyframe_rate:g} keyframes/s, {frame_count} frames, "
        f"{frame_gap} frames between keyframes"
    )
