"""`fixed_preload`: finish the playing video, then preload up to 4 chunks of each queued video.

A queued video gets its next chunk while it has fewer than 4 and the retention conditioned on the
current play position, `retention[next chunk] / retention[play chunk]`, is above 0.65; videos are
served in queue order. The level follows the video's buffer: above 2 s level 2, above 1 s level 1,
else 0. With nothing to fetch it sleeps 500 ms. The first request is chunk 0 of video 0 at level 0.

Standard library only: this file runs unchanged in the challenge's simulator.
"""

from __future__ import annotations

PRELOAD_CHUNKS = 4
RETENTION_THRESHOLD = 0.65
HIGH_BUFFER_MS = 2000
LOW_BUFFER_MS = 1000
IDLE_SLEEP_MS = 500.0
QUEUE_LEN = 5


def level_for_buffer(buffer_ms: float) -> int:
    if buffer_ms > HIGH_BUFFER_MS:
        return 2
    return 1 if buffer_ms > LOW_BUFFER_MS else 0


def worth_preloading(player) -> bool:
    """Fewer than 4 chunks fetched, and the user likely to reach the next one."""
    if player.get_chunk_counter() >= PRELOAD_CHUNKS or player.get_remain_video_num() == 0:
        return False
    _, shares = player.get_user_model()
    reach = float(shares[player.get_chunk_counter()]) / float(shares[int(player.get_play_chunk())])
    return reach > RETENTION_THRESHOLD


class Algorithm:
    def Initialize(self) -> None:  # noqa: N802 (the challenge's name)
        pass

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        if first_step:
            return 0, 0, 0.0
        if Players[0].get_remain_video_num() != 0:
            seq = 0
        else:
            ready = [s for s in range(1, min(len(Players), QUEUE_LEN)) if worth_preloading(Players[s])]
            if not ready:
                return play_video_id, 0, IDLE_SLEEP_MS
            seq = ready[0]
        return play_video_id + seq, level_for_buffer(Players[seq].get_buffer_size()), 0.0
