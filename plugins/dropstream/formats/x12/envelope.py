"""X12 interchange plumbing: separators, segment streams, and the ISA/GS/ST envelope rules.

Reading never holds a file: bytes are decoded as they stream in and cut at the segment
terminator the ISA declares. A segment's "line" in errors is its position in the file (ISA = 1).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dropstream.errors import FileFormatError
from dropstream.formats._csv import TextEncoding

_CHUNK = 64 * 1024
_MAX_SEGMENT = 64 * 1024  # longer than any real segment: garbage or a missing terminator
_UNDECODED = re.compile("[\udc80-\udcff]")
ISA_LENGTH = 106


@dataclass(frozen=True, slots=True)
class Separators:
    """Element separator, sub-element separator and segment terminator of one interchange."""

    element: str = "*"
    sub_element: str = ">"
    segment: str = "~"

    def clean(self, value: str) -> str:
        """``value`` with separators and line breaks turned into spaces, so it stays one element."""
        for char in {self.element, self.sub_element, self.segment, "\r", "\n"}:
            value = value.replace(char, " ")
        return value.strip()

    def carried(self, value: str) -> str:
        """The first separator or line break inside ``value`` ('' when there is none)."""
        return next((c for c in value if c in (self.element, self.sub_element,
                                               self.segment, "\r", "\n")), "")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its position in the file (ISA = 1) and its elements (id first)."""

    index: int
    elements: list[str]

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, position: int) -> str:
        """Element ``position`` (1-based, as in ``W06-02``), stripped; '' when absent."""
        return self.elements[position].strip() if position < len(self.elements) else ""


def read_segments(stream: BinaryIO, file_name: str, encoding: TextEncoding) -> Iterator[Segment]:
    """Segments of every interchange in ``stream``, with the separators each ISA declares."""
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors=encoding.errors)
    buffer, start, index, terminator, element = "", 0, 0, "", ""
    at_end = False

    def more() -> None:
        nonlocal buffer, start, at_end
        chunk = stream.read(_CHUNK)
        at_end = not chunk
        buffer = buffer[start:] + decoder.decode(chunk or b"", final=at_end)
        start = 0

    while True:
        if not terminator:  # between interchanges: the next one must start with ISA
            while not at_end and len(buffer) - start < ISA_LENGTH + 8:
                more()
            buffer, start = buffer[start:].lstrip("\r\n\t \x00"), 0
            if not buffer:
                if index == 0:
                    raise FileFormatError(file_name, None, "empty file: expected an X12 ISA")
                return
            element, terminator = _read_isa(buffer, file_name, index + 1)
        position = buffer.find(terminator, start)
        if position < 0:
            if at_end:
                if buffer[start:].strip("\r\n\t \x00"):
                    reason = f"file ends inside a segment (no {terminator!r}; truncated?)"
                    raise FileFormatError(file_name, index + 1, reason)
                return
            if len(buffer) - start > _MAX_SEGMENT:
                raise FileFormatError(file_name, index + 1, "no segment terminator "
                                      f"{terminator!r} in {_MAX_SEGMENT} characters")  # fmt: skip
            more()
            continue
        text, start = buffer[start:position].strip("\r\n"), position + 1
        if not text.strip():
            continue
        index += 1
        if bad := _UNDECODED.search(text):
            reason = f"segment {text[:3]!r}: {encoding.undecodable(ord(bad.group()) - 0xDC00)}"
            raise FileFormatError(file_name, index, reason)
        elements = text.split(element)
        elements[0] = elements[0].strip()
        yield Segment(index, elements)
        if elements[0] == "IEA":
            terminator = ""  # another ISA may follow, with separators of its own


def _read_isa(buffer: str, file_name: str, index: int) -> tuple[str, str]:
    """Element separator and segment terminator declared by the ISA at the start of ``buffer``."""
    if not buffer.startswith("ISA") or len(buffer) < 4:
        raise FileFormatError(file_name, index, f"not an X12 interchange: expected 'ISA', found "
                              f"{buffer[:12]!r}")  # fmt: skip
    element = buffer[3]
    if element.isalnum() or element in (" ", "\r", "\n"):
        raise FileFormatError(file_name, index, f"ISA element separator {element!r} is invalid")
    position = 3
    for _ in range(15):  # ISA16 follows the 16th separator
        position = buffer.find(element, position + 1, position + 40)
        if position < 0:
            raise FileFormatError(file_name, index, "ISA has fewer than 16 elements (truncated?)")
    if len(buffer) < position + 3:
        raise FileFormatError(file_name, index, "ISA ends before its segment terminator")
    terminator = buffer[position + 2]
    if terminator.isalnum() or terminator in (element, " "):
        raise FileFormatError(file_name, index, f"ISA segment terminator {terminator!r} is invalid")
    return element, terminator


@dataclass(slots=True)
class Envelope:
    """Checks ISA/GS/ST nesting, SE counts and control numbers as segments go by."""

    file_name: str
    isa: Segment | None = None
    gs: Segment | None = None
    st: Segment | None = None
    groups: int = 0
    sets: int = 0
    in_set: int = 0
    interchanges: int = 0

    def fail(self, segment: Segment, reason: str) -> FileFormatError:
        return FileFormatError(self.file_name, segment.index, f"segment {segment.id}: {reason}")

    def check(self, segment: Segment) -> None:
        """Raise FileFormatError when ``segment`` breaks the envelope."""
        sid = segment.id
        if self.st is not None:
            self.in_set += 1
        if sid == "ISA":
            self._open(segment, None, "ISA")
            if len(segment.elements) != 17:
                raise self.fail(segment, f"has {len(segment.elements) - 1} elements, not 16")
            self.isa, self.groups = segment, 0
        elif sid == "GS":
            self._open(segment, self.isa, "GS")
            self.gs, self.sets = segment, 0
        elif sid == "ST":
            self._open(segment, self.gs, "ST")
            self.st, self.in_set = segment, 1
        elif sid == "SE":
            self._close(segment, self.st, "ST", self.in_set)
            self.st, self.sets = None, self.sets + 1
        elif sid == "GE":
            self._close(segment, self.gs, "GS", self.sets, nested=self.st)
            self.gs, self.groups = None, self.groups + 1
        elif sid == "IEA":
            self._close(segment, self.isa, "ISA", self.groups, nested=self.gs)
            self.isa, self.interchanges = None, self.interchanges + 1
        elif self.st is None:
            raise self.fail(segment, "is outside a transaction set (ST ... SE)")

    def _open(self, segment: Segment, parent: Segment | None, sid: str) -> None:
        inner = {"ISA": self.isa, "GS": self.gs, "ST": self.st}[sid]
        if inner is not None:
            raise self.fail(segment, f"{sid} opens before the previous {sid} was closed")
        if sid != "ISA" and parent is None:
            raise self.fail(segment, f"{sid} is outside its {'ISA' if sid == 'GS' else 'GS'}")

    def _close(self, segment: Segment, opener: Segment | None, sid: str, count: int,
               nested: Segment | None = None) -> None:  # fmt: skip
        if opener is None or nested is not None:
            raise self.fail(segment, f"closes a {sid} that is not open (or an inner one is)")
        control = {"ISA": 13, "GS": 6, "ST": 2}[sid]
        if segment.get(2).lstrip("0") != opener.get(control).lstrip("0"):
            raise self.fail(segment, f"control number {segment.get(2)!r} does not match "
                            f"{sid}{control:02d} {opener.get(control)!r}")  # fmt: skip
        what = {"ISA": "functional groups", "GS": "transaction sets", "ST": "segments"}[sid]
        if segment.get(1) != str(count):
            raise self.fail(segment, f"says {segment.get(1) or 'nothing'} {what}, "
                            f"counted {count}")  # fmt: skip

    def finish(self, last_index: int) -> None:
        """Raise when the file ended inside an envelope."""
        open_ = next((s for s in (self.st, self.gs, self.isa) if s is not None), None)
        if open_ is not None:
            raise FileFormatError(self.file_name, last_index, f"file ends inside {open_.id} "
                                  f"(opened at segment {open_.index}; truncated?)")  # fmt: skip
        if self.interchanges == 0:
            raise FileFormatError(self.file_name, None, "no complete X12 interchange")
