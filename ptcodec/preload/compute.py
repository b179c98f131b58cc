"""On-device compute in the simulator: a prompt chunk plays only once downloaded *and* generated (issue 16, item 2).

`ComputeSession` is the challenge's `Session` with prompt levels (level `first_prompt_level` and up, as
`prompts.with_prompts` adds them) and a client generator (`GeneratorQueue`, the same class the search
scheduler mirrors): G frames/s, one chunk at a time (`frames_per_chunk / G` s each), in order within a
video, the chunk of the earliest video in the queue first. Its rules:

- A downloaded prompt chunk joins the generator's queue when its fetch ends; it joins its video's buffer
  when generated. A chunk that arrives after a chunk still being generated waits behind it (a video plays
  in order), pixel chunks included.
- Playback runs through generator completions within a step: a stall ends when the chunk it waits for is
  generated (a step is cut at each completion, rounded up to the next whole ms; with no prompt chunks the
  session is the challenge's).
- The player learns of a swipe at the end of a step, as the Algorithm does: then the swiped videos'
  chunks not yet started are dropped (a chunk being generated is finished). Both the session and the
  scheduler's mirror apply this at the same moment, so their generators agree exactly.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from ptcodec.errors import InputError
from ptcodec.preload.network import Link
from ptcodec.preload.session import CHALLENGE_RULES, Rules, Session, VideoState
from ptcodec.preload.solutions.search import GeneratorQueue
from ptcodec.preload.videos import CHUNK_MS, Video

PIXEL_LEVELS = 3


def chunk_generation_ms(gen_fps: float, frames_per_chunk: int) -> float:
    """Milliseconds the generator needs for one chunk."""
    if not gen_fps > 0 or frames_per_chunk < 1:
        raise InputError(f"generator speed {gen_fps} frames/s and {frames_per_chunk} frames per chunk must be positive")
    return frames_per_chunk / gen_fps * 1000.0


class ComputeSession(Session):
    """A session whose prompt levels must be generated before they play."""

    def __init__(self, videos: Sequence[Video], watch_ms: Sequence[float], link: Link, rules: Rules = CHALLENGE_RULES,
                 *, chunk_gen_ms: float, first_prompt_level: int = PIXEL_LEVELS) -> None:
        super().__init__(videos, watch_ms, link, rules)
        self.generator = GeneratorQueue(chunk_gen_ms)
        self.first_prompt_level = first_prompt_level
        self.waiting: dict[int, deque[list[bool]]] = {}  # per video: arrived chunks not yet playable, in order
        self.generated: list[tuple[int, int, float]] = []  # (video, chunk, done ms): the generator's log
        self.prompt_chunks = 0
        self.pixel_chunks = 0
        self._now = 0.0
        self._chunk_of: dict[tuple[int, int], list[bool]] = {}

    def _state(self, index: int) -> VideoState | None:
        rel = index - self.start
        return self.queue[rel] if 0 <= rel < len(self.queue) else None

    def _release(self, state: VideoState) -> None:
        line = self.waiting.get(state.index)
        while line and line[0][0]:
            line.popleft()
            state.buffer_ms += CHUNK_MS

    def _arrived(self, state: VideoState, level: int) -> None:
        chunk = state.downloaded
        state.downloaded += 1
        line = self.waiting.setdefault(state.index, deque())
        if level >= self.first_prompt_level:
            self.prompt_chunks += 1
            entry = [False]
            self._chunk_of[state.index, chunk] = entry
            line.append(entry)
            self.generator.add(state.index, chunk, self._now)
        else:
            self.pixel_chunks += 1
            line.append([True])
        self._release(state)

    def _generated(self, until: float) -> None:
        for video, chunk, done in self.generator.advance(until):
            self.generated.append((video, chunk, done))
            entry = self._chunk_of.pop((video, chunk), None)
            state = self._state(video)
            if entry is not None and state is not None:
                entry[0] = True
                self._release(state)

    def _play(self, action_ms: float) -> float:
        now, remaining, stall = self.clock_ms, float(action_ms), 0.0
        while remaining > 0 and not self.finished:
            done = self.generator.next_done()
            # whole ms, as the session's clock runs: a fractional span could leave a remainder too small to play
            span = remaining if done is None else min(remaining, max(math.ceil(done - now), 0.0))
            if span > 0:
                stall += super()._play(span)
            now += span
            remaining -= span
            self._generated(now)
        self._generated(now)
        self.generator.drop_before(self.start)  # the swipes of this step, learnt at its end
        self._now = now
        return stall
