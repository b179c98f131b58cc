"""The exception families of ptcodec.

Every error a user can cause (a bad file, a missing model, an unreadable video)
is a `PtcodecError`; the CLI prints it as one line and exits non-zero. Errors in
`.ptv` data are `PtvError`s and say where the problem is: file, byte offset,
unit index and field path.
"""

from __future__ import annotations


def one_line(error: BaseException, *, with_class: bool = False, limit: int = 300) -> str:
    """An exception's own words on one line, at most `limit` characters: the OS's reason
    (strerror) when it has one, else its message, else its class name; `with_class` puts
    the class first, for errors from libraries whose messages do not say what failed."""
    text = " ".join(str(getattr(error, "strerror", None) or error).split())[:limit]
    if not text:
        return type(error).__name__
    return f"{type(error).__name__}: {text}" if with_class else text


class PtcodecError(Exception):
    """Base of every error ptcodec raises on purpose."""


class PtvError(PtcodecError):
    """A `.ptv` byte stream is not valid; carries where and what."""

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        unit_index: int | None = None,
        field: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.unit_index = unit_index
        self.field = field
        self.path = path

    def located(self, **where: object) -> "PtvError":
        """Fill in location details the raiser did not know; keeps known ones."""
        for key, value in where.items():
            if getattr(self, key) is None and value is not None:
                setattr(self, key, value)
        return self

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.offset is not None:
            where.append(f"byte {self.offset}")
        if self.unit_index is not None:
            where.append(f"unit {self.unit_index}")
        if self.field is not None:
            where.append(f"field {self.field}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class TruncatedError(PtvError):
    """The stream ends inside a unit or a field."""


class CrcMismatchError(PtvError):
    """A unit's CRC-32C does not match its bytes."""


class UnsupportedVersionError(PtvError):
    """The stream's major version is newer than this implementation."""


class LimitExceededError(PtvError):
    """A value exceeds the limits of the stream's level."""


class InvalidValueError(PtvError):
    """A syntax element holds a forbidden value, or units come in a forbidden order."""


class GeneratorError(PtcodecError):
    """A generator is unknown, or its weights are missing or do not match the stream."""


class InputError(PtcodecError):
    """An input file (video, prompt directory) cannot be used."""


class DamageWarning(UserWarning):
    """A packet was damaged or missing; the decoder concealed the gap and went on."""
