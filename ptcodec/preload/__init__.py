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

Nothing here imports torch.
"""
