"""CSV plumbing shared by the CSV formats: streaming decode, rows with line numbers, cell rules.

Reading never holds a file: bytes are decoded as they stream through ``io.TextIOWrapper``
(``newline=''``) into ``csv.reader``. Undecodable bytes do not stop the decoder: they are kept
as surrogate escapes and reported against the row that holds them, so the other rows still read.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.formats.base import OnError
from dropstream.models import Order

_CP1252_FALLBACK = "dropstream-cp1252-fallback"
_UNDECODED = re.compile("[\udc80-\udcff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252; bytes undefined there stay escaped."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chars = []
    for byte in exc.object[exc.start : exc.end]:
        try:
            chars.append(bytes((byte,)).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(0xDC00 + byte))  # reported against its row, like surrogateescape
    return "".join(chars), exc.end


codecs.register_error(_CP1252_FALLBACK, _cp1252_fallback)


@dataclass(frozen=True, slots=True)
class TextEncoding:
    """How to decode a warehouse file: the option as configured, the codec and error handler."""

    option: str
    codec: str
    errors: str

    def undecodable(self, byte: int) -> str:
        """Why a row with ``byte`` cannot be read, and which option to set."""
        if self.errors == _CP1252_FALLBACK:
            return (
                f"byte 0x{byte:02X} is neither UTF-8 nor Windows-1252; ask the warehouse which "
                "encoding it writes and set the format option 'encoding' to it"
            )
        hint = (
            "; if the warehouse writes Windows-1252 (Excel) files, set the format option "
            "encoding='cp1252'"
            if self.codec == "utf-8-sig"
            else ""
        )
        return f"byte 0x{byte:02X} is not valid {self.option}{hint}"


def text_encoding(option: str) -> TextEncoding:
    """Resolve the ``encoding`` option: UTF-8 (BOM accepted), cp1252 as a fallback, or a codec."""
    try:
        name = codecs.lookup(option).name
    except (LookupError, TypeError):
        raise ConfigurationError(
            f"format option encoding={option!r} is not a known text encoding; "
            "use 'utf-8' (the default) or 'cp1252'"
        ) from None
    if name in ("utf-8", "utf-8-sig"):
        return TextEncoding(option, "utf-8-sig", "surrogateescape")
    if name == "cp1252":
        # UTF-8 first (a BOM is dropped), Windows-1252 only for bytes that are not UTF-8.
        return TextEncoding(option, "utf-8-sig", _CP1252_FALLBACK)
    return TextEncoding(option, name, "surrogateescape")


class RowProblem(Exception):
    """A cell or row is invalid; the reader turns this into a FileFormatError with the line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def report(error: FileFormatError, on_error: OnError | None) -> None:
    """Raise ``error``, or hand it to ``on_error`` so reading carries on."""
    if on_error is None:
        raise error
    on_error(error)


def column_key(name: str) -> str:
    """Header names match case-insensitively, with spaces and hyphens read as underscores."""
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().lower())


@dataclass(slots=True)
class Row:
    """One record: the physical line it starts on, its cells, and a structural problem if any."""

    line: int
    values: list[str]
    columns: dict[str, int]
    problem: str = ""

    def get(self, column: str) -> str:
        """The stripped cell under ``column``; empty when the column or the cell is absent."""
        index = self.columns.get(column)
        if index is None or index >= len(self.values):
            return ""
        return self.values[index].strip()


@dataclass(slots=True)
class _Header:
    columns: dict[str, int] = field(default_factory=dict)
    width: int = 0


def read_table(
    stream: BinaryIO,
    *,
    file_name: str,
    encoding: TextEncoding,
    required: Iterable[str],
    optional: Iterable[str] = (),
    dialect: Mapping[str, Any] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Iterator[Row]:
    """Rows of a CSV file with a header row, streamed; blank lines are skipped.

    ``dialect`` holds ``csv.reader`` options (e.g. ``delimiter``). ``aliases`` maps a column
    name to the header the file uses for it; with aliases, ``Row.get`` takes the column names.

    A missing, unreadable or incomplete header row raises FileFormatError for the whole file.
    Rows that cannot be read (undecodable bytes, wrong number of fields, broken quoting) are
    yielded with ``problem`` set, so the caller decides whether to raise or report.
    """
    needed = tuple(required)
    known = (*needed, *optional)
    text = io.TextIOWrapper(stream, encoding=encoding.codec, errors=encoding.errors, newline="")
    try:
        reader = csv.reader(text, **dict(dialect or {}))
        header: _Header | None = None
        last = 0  # physical lines consumed so far: a record starts on the line after
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line, stuck, last = last + 1, reader.line_num <= last, reader.line_num
                if header is None or stuck:
                    raise FileFormatError(file_name, line, f"unreadable CSV: {exc}") from None
                yield Row(line, [], header.columns, f"unreadable CSV: {exc}")
                continue
            line, last = last + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            undecoded = next(filter(None, map(_UNDECODED.search, values)), None)
            if header is None:
                if undecoded:
                    byte = ord(undecoded.group()) - 0xDC00
                    reason = f"header row: {encoding.undecodable(byte)}"
                    raise FileFormatError(file_name, line, reason)
                header = _read_header(values, file_name, line, needed, known, aliases)
                continue
            problem = ""
            if undecoded:
                problem = encoding.undecodable(ord(undecoded.group()) - 0xDC00)
            elif len(values) < header.width:
                problem = (
                    f"{len(values)} fields where the header row has {header.width} "
                    "(truncated line?)"
                )
            elif any(value.strip() for value in values[header.width :]):
                problem = f"{len(values)} fields where the header row has {header.width}"
            yield Row(line, values, header.columns, problem)
        if header is None:
            expected = ", ".join(needed)
            raise FileFormatError(
                file_name, None, f"empty file: expected a header row ({expected})"
            )
    finally:
        with contextlib.suppress(ValueError):
            text.detach()  # leave the caller's stream open


def _read_header(
    values: list[str],
    file_name: str,
    line: int,
    required: tuple[str, ...],
    known: tuple[str, ...],
    aliases: Mapping[str, str] | None = None,
) -> _Header:
    header = _Header(width=len(values))
    renamed = {name: column_key((aliases or {}).get(name, name)) for name in known}
    wanted = set(renamed.values())
    for index, name in enumerate(values):
        key = column_key(name)
        if key in header.columns and key in wanted:
            raise FileFormatError(
                file_name, line, f"column {key!r} appears twice in the header row"
            )
        header.columns.setdefault(key, index)
    missing = [(aliases or {}).get(n, n) for n in required if renamed[n] not in header.columns]
    if missing:
        found = ", ".join(repr(value.strip()) for value in values)
        raise FileFormatError(
            file_name,
            line,
            f"header row lacks required column(s) {', '.join(missing)} (found: {found})",
        )
    if aliases:
        found_at = header.columns
        header.columns = {n: found_at[key] for n, key in renamed.items() if key in found_at}
    return header


def parse_count(text: str, what: str, *, minimum: int = 0) -> int:
    """A whole number of units (``12``, ``12.0``) no smaller than ``minimum``."""
    if not text:
        raise RowProblem(f"{what} is missing")
    if not _WHOLE_NUMBER.fullmatch(text):
        raise RowProblem(f"{what} {text!r} is not a whole number")
    value = int(text.partition(".")[0])
    if value < 0:
        raise RowProblem(f"{what} {text!r} is negative")
    if value < minimum:
        raise RowProblem(f"{what} {text!r} must be at least {minimum}")
    return value


def parse_time(text: str, what: str) -> datetime:
    """An ISO date or date-time; no offset means UTC; the result is aware UTC."""
    if not text:
        raise RowProblem(f"{what} is missing")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RowProblem(
            f"{what} {text!r} is not an ISO date or date-time (e.g. 2024-05-01 or "
            "2024-05-01T14:30:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def neutralize(value: str, *, phone: bool = False) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula; a plain phone number stays."""
    if not value.startswith(_FORMULA_START) or (phone and _PHONE.fullmatch(value)):
        return value
    return "'" + value


class KeySet:
    """Keys seen so far (duplicate SKUs), exact, in about the bytes of the keys themselves.

    A plain ``set`` of 1,000,000 short keys costs ~110 MB (a ``str`` object each); here the keys'
    UTF-8 bytes sit back to back in one buffer and an open-addressing table holds, per key, 32
    bits of its hash beside its offset. The hash only chooses and filters slots: a key counts as
    seen only when its bytes equal a stored key's, so two different keys are never taken for one.
    """

    __slots__ = ("_keys", "_mask", "_slots", "_used")

    def __init__(self) -> None:
        self._keys = bytearray(b"\0")  # offset 0 is never a key: an empty slot holds 0
        self._slots = array("Q", [0]) * 1024
        self._mask = 1023
        self._used = 0

    def add(self, key: str) -> bool:
        """Remember ``key``; False when an equal key was already there."""
        data = key.encode("utf-8", "surrogatepass")
        tag = hash(data) & 0xFFFFFFFF
        slots, mask = self._slots, self._mask
        index = tag & mask
        while entry := slots[index]:
            if entry >> 32 == tag and self._key_at(entry & 0xFFFFFFFF) == data:
                return False
            index = (index + 1) & mask
        offset = len(self._keys)
        if offset > 0xFFFFFFFF:
            raise OverflowError("more than 4 GB of distinct keys in one file")
        self._keys += _varint(len(data)) + data
        slots[index] = tag << 32 | offset
        self._used += 1
        if self._used * 5 >= len(slots) * 4:
            self._grow()
        return True

    def __len__(self) -> int:
        return self._used

    def _key_at(self, offset: int) -> bytes:
        keys, size, shift = self._keys, 0, 0
        while True:
            byte = keys[offset]
            offset += 1
            size |= (byte & 0x7F) << shift
            if byte < 0x80:
                return bytes(keys[offset : offset + size])
            shift += 7

    def _grow(self) -> None:
        old = self._slots
        self._slots = slots = array("Q", [0]) * (2 * len(old))
        self._mask = mask = len(slots) - 1
        for entry in old:
            if entry:
                index = (entry >> 32) & mask
                while slots[index]:
                    index = (index + 1) & mask
                slots[index] = entry


def _varint(size: int) -> bytes:
    out = bytearray()
    while size >= 0x80:
        out.append(size & 0x7F | 0x80)
        size >>= 7
    out.append(size)
    return bytes(out)


def write_cancel_rows(
    orders: Iterable[Order],
    stream: BinaryIO,
    *,
    file_name: str,
    codec: str,
    line_ending: str,
    dialect: dict[str, Any] | None = None,
) -> int:
    """A CSV cancel file: an ``order_number`` header and one row per order (each number once).

    Every number is checked (and encoded) before anything is written.
    """
    numbers = list(dict.fromkeys(order.number for order in orders))
    problems = []
    for number in numbers:
        if not number.strip():
            problems.append("an order without a number")
            continue
        try:
            number.encode(codec)
        except UnicodeError:
            problems.append(f"order {number}: its number cannot be written in {codec}")
    if problems:
        raise FileFormatError(file_name, None, "; ".join(problems) + ". Nothing was written.")
    text = io.TextIOWrapper(stream, encoding=codec, errors="strict", newline="")
    try:
        writer = csv.writer(text, lineterminator=line_ending, **(dialect or {}))
        writer.writerow(["order_number"])
        writer.writerows([number] for number in numbers)
    finally:
        text.detach()  # flushes; leaves the caller's stream open
    return len(numbers)
