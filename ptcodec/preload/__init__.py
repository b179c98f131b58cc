"""A clean-room simulator of the ACM MM 2022 Short Video Streaming Challenge (issue 16).

One job per module:

- `network`: Pensieve's link model (the looping `[time_s, Mbit/s]` trace, 95% payload, 80 ms RTT).
- `videos`: the challenge's videos (chunk sizes per level, retention curves).
- `users`: when each user swipes away (retention curves with the challenge's seeds; Dashlet's swipe
  distributions as a second model).
- `challenge`: the `Algorithm` interface a solution implements and the `Player` view it is given.
- `session`: one viewing session (the queue of up to 5 videos, the decision loop, the score).
- `runner`: one Algorithm over a class of traces, with per-trace and mean figures.
- `baselines`: `no_save` and `fixed_preload`, standard library and NumPy only.
- `prompts`: prompt chunks (Promptus keyframes) sized from the PTV format; their quality value is an
  assumed H.265-equivalent kbps per rank.
- `compute`: `ComputeSession`, where a prompt chunk plays only once downloaded and generated.
- `solutions`: the search scheduler (pixel-only as a challenge `Algorithm`, or with prompts and the
  generator modelled) and PDAS- and Dashlet-style comparisons; standard library and NumPy only.
- `experiment`, `report`: what `ptcodec preload-sim` runs and writes.
- `feed`, `feed_player`, `feed_build`: a served feed of packaged clips (pixel and prompt ladders), as the
  simulator's session (`FeedSession`, `ServedLink`) and played for real (`ptcodec preload-play`: HTTP over
  loopback, real generation); `feed_build` makes one from clips (issue 16, item 7).

Written from the published rules; the challenge's simulator was read for facts only, to settle what
the published description leaves open. Where it is ambiguous, we matched the simulator:

- "looping, starting at t=0": the trace clock moves only with transfers (not with RTTs or sleeps), and a
  step of the trace runs at the throughput of its *end* point (Pensieve's convention); delays are whole ms.
- "watch time with fixed seeds": seed pairs from NumPy's RandomState(42), a RandomState choice of the
  second and a Python `random.Random` draw within it (see `users`).
- "the first video's startup counts as rebuffering": every stall counts, startup included, and a stall
  ends the step's playback (see `session`).
- "|Δkbps to the neighbouring watched chunk|": which chunk is the last watched one, and what happens when
  it is fetched after the next video's first chunk, follow the simulator by default
  (`Rules(exact_challenge=True)`); `exact_challenge=False` applies the description literally.
- Waste counts a chunk in flight at the swipe once (the simulator counts it twice).

With these rules both baselines reproduce the simulator's published scores trace by trace.
Nothing here imports torch, except `feed_player` and `feed_build` (through the decoder and the media reader),
and only when they run.
"""
