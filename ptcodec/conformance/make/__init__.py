"""Making the conformance vectors (`python -m ptcodec.conformance.generate`), in two stages.

1. **Encode** (torch, `encodings`): the reference encoder fits small clips that
   the reference generator can reproduce (ptcodec.encoder.reachable) at 64x64,
   with each option of the format. Gradient descent is floating point and the
   encoder's output is not normative: another CPU (AVX-512 against AVX2, say) or
   another torch gives other bits, all of them valid streams. So the committed
   vectors are the reference, and a fresh encode is judged by the conformance
   tiers, not compared bit for bit. `--from VECTORS` skips this stage and takes
   the encodings from a committed vector set instead.
2. **Assemble** (NumPy, exact): valid streams are built from the encoded units
   (`valid`: rewrites such as extra unit types, truncation, imported prompts),
   faulty streams are edited from a valid one (`faulty`, with the raw unit
   builder of `raw`), the valid ones are muxed into Matroska (`matroska`), and
   each vector gets its test.json (`writer`): SHA-256 of its files, the parse
   dump (tier 1), the reconstruction hashes and tensors (tier 2), and the
   reference frames with their tolerance (tier 3). From the same encodings this
   stage gives the same bytes on any machine, except the reference frames, which
   the (torch) decoder makes: they agree across machines within the tier-3
   tolerance, not bit for bit.

The maker checks its own work: each valid stream must parse and each faulty one
must be rejected by ptcodec's reader with the error class it documents.
"""
