"""`ptcodec evaluate`: rate-quality of ptcodec against pixel and VAE codecs, as reports a codec engineer trusts.

- specs.py: the --codec specifications (a codec and its grid of settings)
- codecs/: one adapter per pixel codec (x264, x265, SVT-AV1 through PyAV; VVenC, libaom through FFmpeg),
  rate control to within 2% of a target
- points.py: the rate points of each codec: pixel codecs at target rates, ptcodec over a grid of rank and
  interval, the VAE baseline
- quality.py: the metrics of a decoded clip against its source, each naming its implementation
- vmaf.py: VMAF through libvmaf; ptcodec/perceptual/: LPIPS and DISTS in plain torch
- rates.py: a prompt stream's total, steady-state and keyframe-payload rates
- run.py: clips x codecs x points, resumable (a finished point is never computed again), manifest.json
- bd.py, report.py: BD-rates, tables and plots from the points of one or more runs
- check.py: which encoders and metrics this machine has, and why a missing one is missing
"""
