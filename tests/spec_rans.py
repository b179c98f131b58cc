"""An independent transcription of the range coder as the design of bitstream 1.1 states it
(adaptive byte-wise rANS, spec section 2.6), in plain Python: no numba, nothing from
ptcodec.entropy. tests/test_entropy.py compares ptcodec's coder with it.

Slow (pure Python), so the tests give it small inputs.
"""

from __future__ import annotations

FREQ_TOTAL = 32768
LOW = 1 << 23
HIGH = 1 << 31


class SpecError(Exception):
    """A forbidden value: `code` is "F34", "F35" or "F36"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Context:
    """One adaptive frequency table."""

    def __init__(self) -> None:
        self.counts = [1] * 256
        self.total = 256
        self.since = 0
        self.interval = 16
        self.rebuild()

    def rebuild(self) -> None:
        self.freq = [1 + c * (FREQ_TOTAL - 256) // self.total for c in self.counts]
        largest = max(range(256), key=lambda s: (self.counts[s], -s))  # lowest index on ties
        self.freq[largest] += FREQ_TOTAL - sum(self.freq)
        self.cum = [0] * 257
        for s in range(256):
            self.cum[s + 1] = self.cum[s] + self.freq[s]

    def update(self, s: int) -> None:
        self.counts[s] += 16
        self.total += 16
        self.since += 1
        if self.since == self.interval:
            if self.total > 1 << 18:
                self.counts = [(c + 1) >> 1 for c in self.counts]
                self.total = sum(self.counts)
            self.rebuild()
            self.since = 0
            self.interval = min(2 * self.interval, 1024)

    def copy(self) -> Context:
        other = Context.__new__(Context)
        other.counts, other.total, other.since, other.interval = list(self.counts), self.total, self.since, self.interval
        other.freq, other.cum = list(self.freq), list(self.cum)
        return other


class Decoder:
    def __init__(self, data: bytes) -> None:
        if len(data) < 4:
            raise SpecError("F35")
        self.data = data
        self.x = int.from_bytes(data[:4], "big")
        if not LOW <= self.x < HIGH:
            raise SpecError("F35")
        self.pos = 4

    def symbol(self, ctx: Context) -> int:
        slot = self.x % FREQ_TOTAL
        s = 0
        while not ctx.cum[s] <= slot < ctx.cum[s + 1]:
            s += 1
        self.x = ctx.freq[s] * (self.x >> 15) + slot - ctx.cum[s]
        while self.x < LOW:
            if self.pos >= len(self.data):
                raise SpecError("F34")
            self.x = (self.x << 8) | self.data[self.pos]
            self.pos += 1
        ctx.update(s)
        return s

    def finish(self) -> None:
        if self.pos != len(self.data) or self.x != LOW:
            raise SpecError("F36")


def encode(symbols: list[int], contexts: list[int], model: list[Context]) -> bytes:
    """rANS: the model forward for each symbol's (cum, f), then the symbols in reverse."""
    steps = []
    for s, t in zip(symbols, contexts, strict=True):
        ctx = model[t]
        steps.append((ctx.cum[s], ctx.freq[s]))
        ctx.update(s)
    out = bytearray()
    x = LOW
    for start, f in reversed(steps):
        while x >= f << 16:
            out.append(x & 255)
            x >>= 8
        x = ((x // f) << 15) + x % f + start
    for _ in range(4):
        out.append(x & 255)
        x >>= 8
    return bytes(reversed(out))


def zigzag(d: int) -> int:
    d &= 255
    if d >= 128:
        d -= 256
    return 2 * d if d >= 0 else -2 * d - 1


def unzigzag(z: int) -> int:
    return z // 2 if z % 2 == 0 else -(z + 1) // 2


def _bucket(z: int) -> int:
    return 1 if z < 4 else 2 if z < 12 else 3 if z < 32 else 4


def decode_factors(data: bytes, centre_u: list[list[int]], centre_v: list[list[int]], predicted: bool,
                   model: list[Context] | None = None) -> tuple[list[list[int]], list[list[int]], list[Context]]:
    """Section 7.5: u row-major, each symbol's context the bucket of the one before it in its row
    (0 first), then v row-major in one context; base 0 intra, 6 predicted; 12 contexts."""
    model = model if model is not None else [Context() for _ in range(12)]
    base = 6 if predicted else 0
    dec = Decoder(data)
    u = []
    for row in centre_u:
        t, out = 0, []
        for c in row:
            z = dec.symbol(model[base + t])
            out.append((c + unzigzag(z)) & 255)
            t = _bucket(z)
        u.append(out)
    v = [[(c + unzigzag(dec.symbol(model[base + 5]))) & 255 for c in row] for row in centre_v]
    dec.finish()
    return u, v, model


def _med(q, c, y, x) -> tuple[int, int]:
    if y == 0 and x == 0:
        return 128, 0
    if y == 0:
        return q[c][y][x - 1], 0
    if x == 0:
        return q[c][y - 1][x], 0
    a, b, d = q[c][y][x - 1], q[c][y - 1][x], q[c][y - 1][x - 1]
    pred = min(a, b) if d >= max(a, b) else max(a, b) if d <= min(a, b) else a + b - d
    g = abs(a - d) + abs(b - d)
    return pred, 0 if g < 2 else 1 if g < 6 else 2 if g < 16 else 3 if g < 40 else 4


def decode_latent(data: bytes, shape: tuple[int, int, int]) -> list:
    """Section 6.3: per channel, raster order, MED prediction, gradient context (5, fresh)."""
    C, H, W = shape
    model = [Context() for _ in range(5)]
    dec = Decoder(data)
    q = [[[0] * W for _ in range(H)] for _ in range(C)]
    for c in range(C):
        for y in range(H):
            for x in range(W):
                pred, t = _med(q, c, y, x)
                q[c][y][x] = (pred + unzigzag(dec.symbol(model[t]))) & 255
    dec.finish()
    return q
