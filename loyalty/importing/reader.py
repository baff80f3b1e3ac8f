"""Open an uploaded CSV safely and stream its records with their row numbers.

What is accepted: UTF-8, with or without a byte-order mark; comma, semicolon or tab delimiters,
detected from the header line. Everything else is refused before anything is written, with a
sentence saying what the file is and what to do (UTF-16 and Windows-1252 files, spreadsheets and
other binary files saved as `.csv`, empty files). Nothing is ever decoded with a guessed encoding,
so nothing is ever imported as mojibake.

Row numbers are the file's line numbers where a record starts (the header is line 1): for a plain
CSV, what a spreadsheet shows. Blank lines (and lines of empty cells) are skipped, not rows.

Line endings: LF and CRLF; a file with old Mac line endings (a lone CR, no LF in its first 64 KiB)
is read with CR as the line break. A lone CR inside an unquoted field of any other file is a row
error naming the row (`bad_line_ending`), never an unexpected error.

Memory stays flat: the file is read one line at a time, one field is at most `FIELD_LIMIT`
characters and one physical line at most `LINE_LIMIT` bytes.

File-level problems raise `FileError` (nothing can be imported); row-level problems (a ragged row,
bad quoting, a NUL byte) come back with the record, so the caller reports them with the others.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FIELD_LIMIT = 4 * 1024 * 1024  # characters in one field: beyond this it is not a real value
LINE_LIMIT = 16 * 1024 * 1024  # bytes in one physical line
BLOCK_BYTES = 1024 * 1024  # read and decoded at once (`CsvSource._lines`)
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# A NUL byte is replaced by this private-use character while parsing, so that the row can be
# reported with the column it is in instead of confusing the CSV parser.
NUL_MARK = "\ue000"

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3", "an SQLite database"),
)
_SAVE_AS = "Save it from your spreadsheet as 'CSV UTF-8 (comma delimited)' and import that file."


class FileError(Exception):
    """The file as a whole cannot be imported; nothing is written."""

    def __init__(self, code: str, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


@dataclass(slots=True)
class Record:
    row: int
    fields: list[str]
    # (column index or None for the whole row, code, message)
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)


def file_checksum(path: Path) -> tuple[str, int]:
    """(sha256 hex digest, size in bytes), reading 1 MiB at a time."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _sniff(head: bytes) -> int:
    """Refuse what is not UTF-8 text; return how many BOM bytes to skip."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(
            "unsupported_encoding",
            "The file is UTF-16 encoded (Excel's 'Unicode text'); only UTF-8 is accepted. "
            + _SAVE_AS,
        )
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise FileError("not_csv", f"The file is {what}, not a CSV text file. {_SAVE_AS}")
    if head.count(b"\x00") > len(head) // 4:
        even, odd = head[0::2], head[1::2]
        if even.count(0) > len(even) // 2 or odd.count(0) > len(odd) // 2:
            raise FileError(
                "unsupported_encoding",
                "The file looks UTF-16 encoded (every other byte is zero); only UTF-8 is "
                "accepted. " + _SAVE_AS,
            )
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if head and control > max(8, len(head) // 50):
        raise FileError(
            "not_csv",
            f"The file is binary ({control} control bytes in its first {len(head):,}), not a CSV "
            "text file.",
        )
    return 3 if head.startswith(b"\xef\xbb\xbf") else 0


def _decode_error(raw: bytes, exc: UnicodeDecodeError, line: int) -> FileError:
    bad = raw[exc.start : exc.start + 1]
    try:
        as_1252 = bad.decode("cp1252")
        hint = f", which is '{as_1252}' in Windows-1252 (the file is probably Windows-1252)"
    except UnicodeDecodeError:
        hint = ""
    return FileError(
        "unsupported_encoding",
        f"The file is not UTF-8: line {line} contains the byte 0x{bad.hex().upper()}{hint}. "
        "Only UTF-8 is accepted, so that no name is ever imported garbled. " + _SAVE_AS,
        row=line,
    )


def _too_long(line_no: int) -> FileError:
    return FileError(
        "line_too_long",
        f"Line {line_no} is longer than {LINE_LIMIT // 1024 // 1024} MiB; this is not an order "
        "export.",
        row=line_no,
    )


# While records are read (`CsvSource.records`): a young-generation pass every this many new
# objects instead of Python's 700.
READ_GC_THRESHOLD = 50_000


@contextmanager
def _collector_eased():
    """Fewer garbage-collector passes while a file is read, both undone at the end however the
    reading ends: the objects the process already had (Django's, the program's) are left out of
    the passes (`gc.freeze`; not when something else froze them), and a young-generation pass
    comes every `READ_GC_THRESHOLD` new objects. The reading allocates a few objects per row,
    and a pass went over all of them every 700: 100k orders, 0.7 s of a 3.7 s parse. Nothing is
    left uncollected: the frozen objects go back, and the next passes see everything."""
    freeze = gc.get_freeze_count() == 0
    previous = gc.get_threshold()
    eased = (max(previous[0], READ_GC_THRESHOLD), *previous[1:])
    if freeze:
        gc.freeze()
    gc.set_threshold(*eased)
    try:
        yield
    finally:
        if gc.get_threshold() == eased:  # not changed meanwhile (another reading, another caller)
            gc.set_threshold(*previous)
        if freeze:
            gc.unfreeze()


class CsvSource:
    """One CSV file: its header and delimiter (detected on `open()`), then `records()`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.bytes_read = 0
        self.delimiter = ","
        self.header: list[str] = []
        self.header_row = 1
        self._skip = 0
        self._cr_lines = False  # old Mac line endings: CR alone ends a line (`open`)
        self._nul_seen = False  # fields are searched for NUL marks only once a line had one

    @property
    def delimiter_name(self) -> str:
        return DELIMITER_NAMES[self.delimiter]

    def open(self) -> CsvSource:
        if self.size == 0:
            raise FileError("empty_file", "The file is empty.")
        with open(self.path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        self._skip = _sniff(head)
        self._cr_lines = b"\r" in head and b"\n" not in head
        first, row = None, 0
        for number, line in enumerate(self._lines(), start=1):
            if line.strip(" \r\n\t" + ",;"):
                first, row = line, number
                break
        if first is None:
            raise FileError("empty_file", "The file is empty (no header, no rows).")
        self.header_row = row
        counts = {d: len(next(csv.reader([first], delimiter=d))) for d in DELIMITERS}
        self.delimiter = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
        if counts[self.delimiter] < 2:
            raise FileError(
                "no_delimiter",
                "Cannot find the delimiter: the first line has no comma, semicolon or tab "
                "between column names.",
                row=row,
            )
        header = next(csv.reader([first], delimiter=self.delimiter))
        self.header = [h.replace(NUL_MARK, "").strip() for h in header]
        while self.header and not self.header[-1]:
            self.header.pop()
        return self

    def _lines(self) -> Iterator[str]:
        """The file's lines (split at b"\\n" only, ends kept), decoded. Read a block at a time and
        decoded a block at a time; a block with a NUL byte, a line over `LINE_LIMIT` or a byte
        that is not UTF-8 is taken line by line (`_line`), which reports them at their line."""
        with open(self.path, "rb") as handle:
            handle.read(self._skip)
            self.bytes_read = self._skip
            line_no = 0
            rest = b""
            while True:
                block = handle.read(BLOCK_BYTES)
                if self._cr_lines:
                    block = block.replace(b"\r", b"\n")
                if not block:
                    if rest:
                        yield self._line(rest, line_no + 1)
                    return
                self.bytes_read += len(block)
                if rest:
                    block = rest + block
                cut = block.rfind(b"\n") + 1
                if not cut:
                    if len(block) > LINE_LIMIT:
                        raise _too_long(line_no + 1)
                    rest = block
                    continue
                rest = block[cut:]
                block = block[:cut]
                if len(block) > LINE_LIMIT or b"\x00" in block:
                    text = None
                else:
                    try:
                        text = block.decode("utf-8")
                    except UnicodeDecodeError:
                        text = None
                if text is None:
                    for raw in io.BytesIO(block):
                        line_no += 1
                        yield self._line(raw, line_no)
                    continue
                lines = io.StringIO(text, newline="\n").readlines()
                line_no += len(lines)
                yield from lines

    def _line(self, raw: bytes, line_no: int) -> str:
        """One line, checked: its length, its encoding, NUL bytes."""
        if len(raw) > LINE_LIMIT:
            raise _too_long(line_no)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _decode_error(raw, exc, line_no) from None
        if "\x00" in line:
            line = line.replace("\x00", NUL_MARK)
            self._nul_seen = True
        return line

    def records(self) -> Iterator[Record]:
        """Every record after the header, with its row number and any row-level problems.

        While they are read, the garbage collector passes less often (`_collector_eased`): the
        reading allocates a few objects per row and creates no reference cycles."""
        with _collector_eased():
            yield from self._records()

    def _records(self) -> Iterator[Record]:
        csv.field_size_limit(FIELD_LIMIT)
        reader = csv.reader(self._lines(), delimiter=self.delimiter, strict=True)
        width = len(self.header)
        header_row = self.header_row
        read = reader.__next__
        strip = str.strip
        row = 0
        while True:
            start = row + 1
            try:
                fields = read()
            except StopIteration:
                return
            except csv.Error as exc:
                row = reader.line_num
                text = str(exc)
                if "field limit" in text:
                    raise FileError(
                        "field_too_large",
                        f"Row {start}: a value is larger than {FIELD_LIMIT // 1024 // 1024} MiB "
                        "(probably a quote that is never closed).",
                        row=start,
                    ) from None
                if "unexpected end of data" in text:
                    raise FileError(
                        "unterminated_quote",
                        f"Row {start}: a quote opened in this row is never closed, so the rest "
                        "of the file reads as one value. Close the quote and import again.",
                        row=start,
                    ) from None
                if start > self.header_row:
                    if "new-line character" in text:
                        problem = (
                            "bad_line_ending",
                            "has a carriage return (CR) alone inside an unquoted value; the "
                            "file mixes line endings. Save it again as CSV UTF-8.",
                        )
                    else:
                        problem = ("bad_quoting", f"bad quoting: {text}")
                    yield Record(start, [], [(None, *problem)])
                continue
            row = reader.line_num
            if start <= header_row:
                continue
            if not fields or not any(map(strip, fields)):
                continue  # a blank line (or only delimiters): not a row
            record = Record(start, fields)
            if len(fields) != width:
                extra = fields[width:]
                if len(fields) > width and not any(f.strip() for f in extra):
                    del fields[width:]
                else:
                    record.problems.append(
                        (
                            None,
                            "ragged_row",
                            f"has {len(fields)} fields; the header has {width}",
                        )
                    )
                    yield record
                    continue
            if not self._nul_seen:
                yield record
                continue
            for index, value in enumerate(fields):
                if NUL_MARK in value:
                    record.problems.append((index, "nul_byte", "contains a NUL byte"))
                    fields[index] = value.replace(NUL_MARK, "")
            yield record
