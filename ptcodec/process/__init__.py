"""The normative decoding process (spec/ptv.md, section 12), NumPy only and bit-exact.

Everything a decoder computes except the generator itself, in the spec's order:

- quant.py: dequantization of the 8-bit factors (and the encoder's quantizer)
- conditioning.py: the frame plan and the conditioning c_t = u v / sqrt(r), interpolated
- noise.py: N0 from the header's seed, and each frame's input noise
- pixels.py: the generator's [-1, 1] samples to 8-bit RGB (and back, for the encoder)
- reconstruction.py: all of it as data, the conformance tier-2 dump

Each operation is one IEEE-754 binary32 operation, so every machine computes the
same bits; the torch code that needs gradients mirrors it (ptcodec/encoder/mirrors.py).
"""
