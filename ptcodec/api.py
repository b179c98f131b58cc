"""The PyAV-style API: `ptcodec.open`, `ptcodec.Encoder`, `ptcodec.Decoder`.

They behave like `av.open` and `av.CodecContext`:

    encoder = ptcodec.Encoder("reference", width=128, height=128, fps=30)
    packets = [p for frame in frames for p in encoder.encode(frame)] + encoder.encode(None)

    decoder = ptcodec.Decoder(encoder.codec_private)
    images = [f for p in packets for f in decoder.decode(p)] + decoder.decode(None)

Packets carry pts (frame index), time_base, duration and is_keyframe (a random
access point); decoded frames are av.VideoFrame (rgb24) with pts and time_base.
The CLI's transcode and decode run on these same classes.
"""

from __future__ import annotations

from fractions import Fraction

from ptcodec import decoder as _decoder
from ptcodec.container import InputContainer, PromptStream
from ptcodec.container import open as open  # noqa: A004 - the API mirrors av.open
from ptcodec.encoder import EncoderOptions
from ptcodec.encoder import encoder as _encoder
from ptcodec.generators import load_generator
from ptcodec.generators.base import Generator
from ptcodec.ptv import Packet, PtvReader, SequenceHeader

__all__ = ["Decoder", "Encoder", "InputContainer", "Packet", "open"]


def _generator(generator: Generator | str, options: dict) -> Generator:
    return load_generator(generator, **options) if isinstance(generator, str) else generator


class Encoder(_encoder.Encoder):
    """`Encoder(generator="reference", *, width, height, fps, options=EncoderOptions(), **generator_options)`;
    `encode(av.VideoFrame | ndarray | None) -> list[Packet]`."""

    def __init__(self, generator: Generator | str = "reference", *, width: int, height: int, fps: Fraction | int,
                 options: EncoderOptions | None = None, frame_count: int = 0, **generator_options) -> None:
        super().__init__(_generator(generator, generator_options), options or EncoderOptions(), width=width,
                         height=height, fps=fps, frame_count=frame_count)


class Decoder(_decoder.Decoder):
    """`Decoder(stream, generator=None, **generator_options)` where `stream` is the
    codec private data (bytes), a sequence header, or a container's prompt stream;
    `decode(Packet | None) -> list[av.VideoFrame]`. The generator named by the
    stream is loaded unless one is given."""

    def __init__(self, stream: bytes | SequenceHeader | PromptStream, generator: Generator | str | None = None,
                 **generator_options) -> None:
        if isinstance(stream, PromptStream):
            header = stream.header
        elif isinstance(stream, (bytes, bytearray)):
            with PtvReader(bytes(stream)) as reader:
                header = reader.header
        else:
            header = stream
        check = generator_options.pop("check_fingerprint", True)
        batch = generator_options.pop("max_batch", 16)
        gen = _generator(generator or header.generator_id, generator_options)
        super().__init__(header, gen, max_batch=batch, check_fingerprint=check)

    def decode(self, packet: Packet | None) -> list:
        return [frame.to_av(self.header.time_base) for frame in super().decode(packet)]
