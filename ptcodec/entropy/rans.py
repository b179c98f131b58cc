"""The adaptive range coder of spec section 2.6 (rANS), compiled with numba.

A coded string carries a sequence of 8-bit symbols, each coded with one
*context* of a model. A context is an adaptive frequency table: symbol counts
that grow as symbols are coded, turned into 15-bit frequencies at fixed points
(section 2.6.2). The coder is byte-wise rANS with a 32-bit state; decoding
needs no division. The encoder runs the model forward to find each symbol's
frequency, then codes the symbols in reverse, as rANS requires.

These functions are the only implementation of that arithmetic; factors.py and
latents.py say which context codes which symbol. They are compiled because the
reader entropy-decodes every coded unit while it parses, and interpreted Python
would parse at under 1 MB/s. tests/spec_rans.py transcribes the spec's
pseudo-code independently, and the tests compare the two.

Errors come back as status codes (numba cannot raise PtvError); the callers turn
them into the forbidden values F34 to F36.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SYMBOLS = 256
FREQ_BITS = 15
FREQ_TOTAL = 1 << FREQ_BITS  # the frequencies of a context sum to this
STATE_LOW = 1 << 23  # the state lies in [STATE_LOW, 256 * STATE_LOW) between symbols
COUNT_STEP = 16  # a coded symbol adds this to its count
FIRST_INTERVAL = 16  # symbols coded before a context's first rebuild
MAX_INTERVAL = 1024
MAX_TOTAL = 1 << 18  # above this at a rebuild, counts are halved

OK = 0
OVERRUN = 1  # F34: a byte past the end of the coded data is needed
BAD_START = 2  # F35: fewer than 4 bytes, or an initial state outside [STATE_LOW, 2^31)
BAD_END = 3  # F36: bytes left over, or the final state is not STATE_LOW

# One context is one row: counts, frequencies, cumulative frequencies, then a lookup
# table from the top 12 bits of a slot to a first candidate symbol, then three counters.
_LUT_SHIFT = 3
_LUT_SIZE = FREQ_TOTAL >> _LUT_SHIFT
CNT = 0
FRQ = CNT + SYMBOLS
CUM = FRQ + SYMBOLS
LUT = CUM + SYMBOLS + 1
TOTAL = LUT + _LUT_SIZE
SINCE = TOTAL + 1
INTERVAL = TOTAL + 2
ROW = TOTAL + 3


@njit(cache=True)
def _rebuild(row):
    """Section 2.6.2: frequencies from counts; each at least 1, the rest to the largest count."""
    spare = FREQ_TOTAL - SYMBOLS
    total = row[TOTAL]
    acc = 0
    best = 0
    for s in range(SYMBOLS):
        f = 1 + (row[CNT + s] * spare) // total
        row[FRQ + s] = f
        acc += f
        if row[CNT + s] > row[CNT + best]:
            best = s
    row[FRQ + best] += FREQ_TOTAL - acc
    c = 0
    for s in range(SYMBOLS):
        row[CUM + s] = c
        c += row[FRQ + s]
    row[CUM + SYMBOLS] = c
    s = 0
    for b in range(_LUT_SIZE):
        while row[CUM + s + 1] <= (b << _LUT_SHIFT):
            s += 1
        row[LUT + b] = s


@njit(cache=True)
def new_model(contexts: int) -> np.ndarray:
    """A model in its initial state: every count 1, first rebuild after 16 symbols."""
    model = np.zeros((contexts, ROW), dtype=np.int32)
    for t in range(contexts):
        row = model[t]
        for s in range(SYMBOLS):
            row[CNT + s] = 1
        row[TOTAL] = SYMBOLS
        row[INTERVAL] = FIRST_INTERVAL
        _rebuild(row)
    return model


@njit(cache=True, inline="always")
def _update(row, s):
    """Section 2.6.2: count the symbol; rebuild at the end of each interval."""
    row[CNT + s] += COUNT_STEP
    row[TOTAL] += COUNT_STEP
    row[SINCE] += 1
    if row[SINCE] == row[INTERVAL]:
        if row[TOTAL] > MAX_TOTAL:
            total = 0
            for k in range(SYMBOLS):
                row[CNT + k] = (row[CNT + k] + 1) >> 1
                total += row[CNT + k]
            row[TOTAL] = total
        _rebuild(row)
        row[SINCE] = 0
        if row[INTERVAL] < MAX_INTERVAL:
            row[INTERVAL] *= 2


@njit(cache=True)
def encode(symbols, contexts, model):
    """Code symbols[i] with context contexts[i] of model (updated in place): the coded bytes."""
    count = symbols.size
    starts = np.zeros(count, dtype=np.int64)
    freqs = np.zeros(count, dtype=np.int64)
    for i in range(count):
        row = model[contexts[i]]
        s = symbols[i]
        starts[i] = row[CUM + s]
        freqs[i] = row[FRQ + s]
        _update(row, s)
    out = np.zeros(2 * count + 8, dtype=np.uint8)  # at most 2 bytes per symbol, then 4
    size = 0
    x = np.int64(STATE_LOW)
    for i in range(count - 1, -1, -1):
        f = freqs[i]
        limit = f << (31 - FREQ_BITS)
        while x >= limit:
            out[size] = x & 0xFF
            size += 1
            x >>= 8
        x = ((x // f) << FREQ_BITS) + (x % f) + starts[i]
    for _ in range(4):
        out[size] = x & 0xFF
        size += 1
        x >>= 8
    return out[:size][::-1].copy()


@njit(cache=True, inline="always")
def start(data):
    """The decoder's state (x, pos, status) after its first 4 bytes."""
    if data.size < 4:
        return np.int64(0), np.int64(data.size), BAD_START
    x = (np.int64(data[0]) << 24) | (np.int64(data[1]) << 16) | (np.int64(data[2]) << 8) | np.int64(data[3])
    if x < STATE_LOW or x >= (STATE_LOW << 8):
        return x, np.int64(0), BAD_START
    return x, np.int64(4), OK


@njit(cache=True, inline="always")
def decode_symbol(row, x, pos, data):
    """One symbol with the context `row`. A byte past the end of the data reads as 0 and
    still advances pos, so that an overrun (pos > size) is found once, at the end."""
    slot = x & (FREQ_TOTAL - 1)
    s = row[LUT + (slot >> _LUT_SHIFT)]
    while row[CUM + s + 1] <= slot:
        s += 1
    x = np.int64(row[FRQ + s]) * (x >> FREQ_BITS) + slot - row[CUM + s]
    while x < STATE_LOW:
        x = (x << 8) | (data[pos] if pos < data.size else 0)
        pos += 1
    _update(row, s)
    return s, x, pos


@njit(cache=True, inline="always")
def finish(x, pos, data):
    """The status at the end of the coded data (F34, F36) and the bytes read."""
    if pos > data.size:
        return OVERRUN, data.size
    if pos != data.size or x != STATE_LOW:
        return BAD_END, pos
    return OK, pos
