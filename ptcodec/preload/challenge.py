"""The challenge's interface: what a solution implements (`Algorithm`) and what it is shown (`Player`).

A solution is a class with `Initialize()` and
`run(delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False)`, returning
`(download_video_id, bit_rate, sleep_time)`: an absolute video id in the queue, a level 0..2, and a sleep
in ms (0 means download). `delay` and `rebuf` are in ms, `video_size` in bytes. `Players[0]` is the
video playing, `Players[1:]` the rest of the queue. The `Player` methods below have the challenge's names
and meanings, so a solution written against them runs unchanged in the original simulator.

One difference: the original's `get_user_model()` returns the retention shares as the strings it read;
here they are floats (a solution should call `float()` on them, which works with both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ptcodec.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ptcodec.preload.session import VideoState


class DecisionError(InputError):
    """An Algorithm asked for something the session cannot do (a video outside the queue, a bad level)."""


class Algorithm(Protocol):
    def Initialize(self) -> None: ...  # noqa: N802 (the challenge's name)

    def run(
        self,
        delay: float,
        rebuf: float,
        video_size: float,
        end_of_video: bool,
        play_video_id: int,
        Players: Sequence[Player],  # noqa: N803 (the challenge's name)
        first_step: bool = False,
    ) -> tuple[int, int, float]: ...


class Player:
    """A read-only view of one queued video, with the challenge's method names."""

    def __init__(self, state: VideoState) -> None:
        self._state = state

    def _future(self, start: int, count: int, what: str) -> list[list[int]]:
        video = self._state.video
        if count < 0 or start + count > video.n_chunks:
            raise DecisionError(
                f"video {self._state.index}: {what}({count}) asks past its last chunk "
                f"(chunks {start}..{start + count - 1} of 0..{video.n_chunks - 1})"
            )
        return [list(sizes[start : start + count]) for sizes in video.sizes]

    def get_user_model(self) -> tuple[list[float], list[float]]:
        """Retention curve: times in ms (end marker included) and the share of users still watching."""
        video = self._state.video
        return [t * 1000 for t in video.retention_s], list(video.retention)

    def get_video_len(self) -> float:
        """Length in ms."""
        return self._state.video.length_ms

    def get_video_size(self, quality: int) -> int:
        """Bytes of the next chunk to download at level `quality`."""
        state = self._state
        if not 0 <= quality < len(state.video.sizes):
            raise DecisionError(f"video {state.index}: level {quality} is outside 0..{len(state.video.sizes) - 1}")
        if state.downloaded >= state.video.n_chunks:
            raise DecisionError(f"video {state.index}: all {state.video.n_chunks} chunks are already downloaded")
        return state.video.sizes[quality][state.downloaded]

    def get_video_quality(self, chunk_id: int) -> int:
        """Level of a downloaded chunk, or -1 if it is not downloaded."""
        levels = self._state.levels
        return levels[chunk_id] if 0 <= chunk_id < len(levels) else -1

    def get_undownloaded_video_size(self, P: int) -> list[list[int]]:  # noqa: N803
        """Bytes of the next `P` chunks to download, per level: `[level][k]`."""
        return self._future(self._state.downloaded, P, "get_undownloaded_video_size")

    def get_future_video_size(self, P: int) -> list[list[int]]:  # noqa: N803
        """Bytes of the next `P` chunks to play (from the chunk after the one playing), per level."""
        chunk = self.get_play_chunk()
        start = int(chunk) if chunk % 1 == 0 else int(chunk + 1)
        return self._future(start, P, "get_future_video_size")

    def get_play_chunk(self) -> float:
        """Play position in chunks (fractional)."""
        return self._state.played_ms / 1000.0

    def get_remain_video_num(self) -> int:
        """Chunks left to download."""
        return self._state.video.n_chunks - self._state.downloaded

    def get_chunk_sum(self) -> int:
        return self._state.video.n_chunks

    def get_chunk_counter(self) -> int:
        """Chunks downloaded (the index of the next one)."""
        return self._state.downloaded

    def get_buffer_size(self) -> float:
        """Downloaded but unplayed ms."""
        return self._state.buffer_ms

    def get_downloaded_bitrate(self) -> list[int]:
        """Level of each downloaded chunk, in order."""
        return list(self._state.levels)

    def get_preload_size(self) -> int:
        """Bytes downloaded for this video (the original offers it too)."""
        return self._state.bytes_downloaded
