"""Prompt streams in files: `ptcodec.open` for `.ptv` and Matroska, read the way PyAV reads media.

- input.py: `open` and `InputContainer` (streams, demux, decode with seeking)
- matroska.py: the Matroska mapping (spec Annex B): mux, demux, the prompt track

The `.ptv` syntax itself is `ptcodec.ptv`. Nothing here imports torch until a
container is asked to decode.
"""

from ptcodec.container.input import InputContainer, PromptStream, open  # noqa: A004 - mirrors av.open

__all__ = ["InputContainer", "PromptStream", "open"]
