"""The entropy coding tools of `.ptv` 1.1 (spec sections 2.6, 6.3 and 7.5).

- rans: the adaptive rANS coder, the only place of its arithmetic;
- factors: how a keyframe's factor codes become symbols and contexts;
- latents: the same for a scene-init latent's u8 codes.

They are compiled with numba on first use (and cached), so importing ptcodec
does not import them.
"""
