"""The conformance suite: judging any decoder against the reference vectors, and making them.

Judging (torch only for ptcodec's own decoder at tier 3):

- vectors: the vector sets on disk; the reference set is package data (bitstream/)
- candidates: a decoder under test, ptcodec's in process or any command
- compare: reading a decoder's outputs and comparing them with the reference
- runner: a verdict per vector and tier, the table and the results JSON
- features, spec_requirements, coverage_map, coverage: which vectors cover
  each requirement and syntax element of spec/ptv.md
- calibrate: the tier-3 tolerances, measured across precisions

Making the vectors: `make` (two stages, see its docstring), run by `generate`.
"""
