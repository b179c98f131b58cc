"""The adaptive range coder of spec section 2.6 (rANS), compiled with numba.

A coded string carries a sequence of 8-bit symbols, each coded with one
*context* of a model. A context is an adaptive frequency table: symbol counts
that grow as symbols are coded, turned into 15-bit frequencies at fixed points
(section 2.6.2). The coder is byte-wise rANS with a 32-bit state; decoding
needs no division. The encoder runs the model forward to find each symbol's
frequency, then codes the symbols in reverse, as rANS requires.

These functions are the only implementation of that arithmetic, and of the two
symbol layouts (which context codes which symbol) that factors.py and latents.py
document and call. They are compiled because the
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
# table from the top 11 bits of a slot to a first candidate symbol, then two counters.
_LUT_SHIFT = 4
_LUT_SIZE = FREQ_TOTAL >> _LUT_SHIFT
CNT = 0
FRQ = CNT + SYMBOLS
CUM = FRQ + SYMBOLS
LUT = CUM + SYMBOLS + 1
LEFT = LUT + _LUT_SIZE  # symbols still to code before the next rebuild
INTERVAL = LEFT + 1
ROW = LEFT + 2


@njit(cache=True)
def _rebuild(row):
    """Section 2.6.2: frequencies from counts; each at least 1, the rest to the largest count."""
    spare = FREQ_TOTAL - SYMBOLS
    total = 0
    for s in range(SYMBOLS):
        total += row[CNT + s]
    acc = 0
    best = 0
    for s in range(SYMBOLS):
        f = 1 + (np.int64(row[CNT + s]) * spare) // total
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
        row[INTERVAL] = FIRST_INTERVAL
        row[LEFT] = FIRST_INTERVAL
        _rebuild(row)
    return model


@njit(cache=True)
def _refresh(row):
    """The end of an interval: halve the counts when their total is above MAX_TOTAL, rebuild,
    and double the interval up to MAX_INTERVAL."""
    total = 0
    for k in range(SYMBOLS):
        total += row[CNT + k]
    if total > MAX_TOTAL:
        for k in range(SYMBOLS):
            row[CNT + k] = (row[CNT + k] + 1) >> 1
    _rebuild(row)
    if row[INTERVAL] < MAX_INTERVAL:
        row[INTERVAL] *= 2
    row[LEFT] = row[INTERVAL]


@njit(cache=True, inline="always")
def _update(row, s):
    """Section 2.6.2: count the symbol; rebuild at the end of each interval."""
    row[CNT + s] += COUNT_STEP
    row[LEFT] -= 1
    if row[LEFT] == 0:
        _refresh(row)


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


# ------------------------------------------------------------------ factor codes (spec 7.5.1)
# In this one file with the coder, so that numba's cache, which is kept per source file, never
# holds a kernel compiled against another file's older constants.

FACTOR_V = 5
"""The context of v's symbols, after u's five."""


@njit(cache=True, inline="always")
def _bucket(z):
    if z < 4:
        return 1
    if z < 12:
        return 2
    if z < 32:
        return 3
    return 4


@njit(cache=True, inline="always")
def _zigzag(d):
    d = d & 0xFF
    if d >= 128:
        d -= 256
    return 2 * d if d >= 0 else -2 * d - 1


@njit(cache=True, inline="always")
def _unzigzag(z):
    """0, 1, 2, 3, ... to 0, -1, 1, -2, ...; without a branch, which would mispredict half the time."""
    return (z >> 1) ^ -(z & 1)


@njit(cache=True)
def factor_symbols(u, v, cu, cv, base):
    m, r = u.shape
    n = v.shape[1]
    symbols = np.zeros(m * r + r * n, dtype=np.int64)
    contexts = np.zeros(m * r + r * n, dtype=np.int64)
    i = 0
    for a in range(m):
        t = 0
        for k in range(r):
            z = _zigzag(u[a, k] - cu[a, k])
            symbols[i] = z
            contexts[i] = base + t
            t = _bucket(z)
            i += 1
    for k in range(r):
        for j in range(n):
            symbols[i] = _zigzag(v[k, j] - cv[k, j])
            contexts[i] = base + FACTOR_V
            i += 1
    return symbols, contexts


@njit(cache=True)
def decode_factors(data, cu, cv, base, model):
    m, r = cu.shape
    n = cv.shape[1]
    u = np.zeros((m, r), dtype=np.uint8)
    v = np.zeros((r, n), dtype=np.uint8)
    x, pos, status = start(data)
    if status != OK:
        return status, pos, u, v
    for a in range(m):
        t = 0
        for k in range(r):
            z, x, pos = decode_symbol(model[base + t], x, pos, data)
            u[a, k] = (cu[a, k] + _unzigzag(z)) & 0xFF
            t = _bucket(z)
    row = model[base + FACTOR_V]
    for k in range(r):
        for j in range(n):
            z, x, pos = decode_symbol(row, x, pos, data)
            v[k, j] = (cv[k, j] + _unzigzag(z)) & 0xFF
    status, pos = finish(x, pos, data)
    return status, pos, u, v


# ------------------------------------------------------------------ latent codes (spec 6.3)

@njit(cache=True, inline="always")
def _predict(q, c, y, x):
    """The prediction of sample (c, y, x) and its context."""
    if y == 0 and x == 0:
        return 128, 0
    if y == 0:
        return q[c, y, x - 1], 0
    if x == 0:
        return q[c, y - 1, x], 0
    a = q[c, y, x - 1]
    b = q[c, y - 1, x]
    d = q[c, y - 1, x - 1]
    lo = min(a, b)
    hi = max(a, b)
    if d >= hi:
        pred = lo
    elif d <= lo:
        pred = hi
    else:
        pred = a + b - d
    g = abs(a - d) + abs(b - d)
    if g < 2:
        return pred, 0
    if g < 6:
        return pred, 1
    if g < 16:
        return pred, 2
    if g < 40:
        return pred, 3
    return pred, 4


@njit(cache=True)
def latent_symbols(q):
    C, H, W = q.shape
    symbols = np.zeros(C * H * W, dtype=np.int64)
    contexts = np.zeros(C * H * W, dtype=np.int64)
    i = 0
    for c in range(C):
        for y in range(H):
            for x in range(W):
                pred, t = _predict(q, c, y, x)
                symbols[i] = _zigzag(q[c, y, x] - pred)
                contexts[i] = t
                i += 1
    return symbols, contexts


@njit(cache=True)
def decode_latent(data, C, H, W, model):
    q = np.zeros((C, H, W), dtype=np.int64)
    x_state, pos, status = start(data)
    if status != OK:
        return status, pos, q
    for c in range(C):
        for y in range(H):
            for x in range(W):
                pred, t = _predict(q, c, y, x)
                z, x_state, pos = decode_symbol(model[t], x_state, pos, data)
                q[c, y, x] = (pred + _unzigzag(z)) & 0xFF
    status, pos = finish(x_state, pos, data)
    return status, pos, q
