"""`CsvSource` reads blocks of the file and splits them into lines: what it reads must be what
reading the file line by line gives, wherever the blocks end. While it reads, the garbage
collector is eased, and restored after."""

from __future__ import annotations

import gc

import pytest

from loyalty.importing import reader
from loyalty.importing.reader import NUL_MARK, CsvSource, FileError, _decode_error


def _line_by_line(path, skip: int, limit: int):
    """The file's lines as reading it one line at a time gives them (the reference), then the
    error that stops it, if any."""
    lines = []
    with open(path, "rb") as handle:
        handle.read(skip)
        number = 0
        while raw := handle.readline(limit + 1):
            number += 1
            if len(raw) > limit:
                return lines, ("line_too_long", number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lines, ("unsupported_encoding", _decode_error(raw, exc, number).message)
            lines.append(line.replace("\x00", NUL_MARK))
    return lines, None


def _lines(source: CsvSource):
    lines = []
    try:
        for line in source._lines():
            lines.append(line)
    except FileError as exc:
        return lines, (exc.code, exc.row if exc.code == "line_too_long" else exc.message)
    return lines, None


def _records(source: CsvSource):
    found = []
    try:
        for record in source.records():
            found.append((record.row, record.fields, record.problems))
    except FileError as exc:
        found.append((exc.code, exc.row))
    return found


CONTENTS = {
    "crlf, quotes over lines, blanks": (
        b'order_id,name\r\n1,"two\r\nlines"\r\n\r\n2,\xc3\xa9t\xc3\xa9\r\n,\r\n3,x\r\n4,\r\n'
    ),
    "bom, no final newline": b"\xef\xbb\xbforder_id,name\n1,a\n2,\xe2\x82\xac",
    "other line breaks": "order_id,name\n1,a\rb\n2,c\u2028d\x85e\n3,f\x0cg\n".encode(),
    "a NUL byte": b"order_id,name\n1,a\n2,b\x00c\n3,d\n",
    "not UTF-8 late": b"order_id,name\n1,a\n2,b\n3,caf\xe9\n4,d\n",
    "a long line": b"order_id,name\n1,a\n2," + b"x" * 60 + b"\n3,b\n",
    "a long last line": b"order_id,name\n1,a\n2," + b"x" * 60,
    "ragged and bad quoting": b'order_id,name\n1,a,b\n2,"c"d\n3,e\n',
}


@pytest.mark.parametrize("name", CONTENTS)
@pytest.mark.parametrize("block", [1, 2, 3, 7, 16, 64, 1024 * 1024])
def test_blocks_read_what_reading_line_by_line_reads(tmp_path, monkeypatch, name, block):
    monkeypatch.setattr(reader, "LINE_LIMIT", 40)
    path = tmp_path / "file.csv"
    path.write_bytes(CONTENTS[name])
    source = CsvSource(path).open()
    expected = _line_by_line(path, source._skip, 40)

    monkeypatch.setattr(reader, "BLOCK_BYTES", block)
    got = _lines(CsvSource(path).open())

    assert got == expected
    monkeypatch.setattr(reader, "BLOCK_BYTES", 1024 * 1024)
    assert _records(CsvSource(path).open()) == _records(_opened(path, block, monkeypatch))


def _opened(path, block, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK_BYTES", block)
    return CsvSource(path).open()


def test_the_records_of_lines_read_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK_BYTES", 5)
    path = tmp_path / "file.csv"
    path.write_bytes(CONTENTS["crlf, quotes over lines, blanks"])

    assert _records(CsvSource(path).open()) == [
        (2, ["1", "two\r\nlines"], []),
        (5, ["2", "été"], []),
        (7, ["3", "x"], []),
        (8, ["4", ""], []),
    ]
    path.write_bytes(CONTENTS["a NUL byte"])
    assert _records(CsvSource(path).open()) == [
        (2, ["1", "a"], []),
        (3, ["2", "bc"], [(1, "nul_byte", "contains a NUL byte")]),
        (4, ["3", "d"], []),
    ]
    path.write_bytes(CONTENTS["not UTF-8 late"])
    assert _records(CsvSource(path).open()) == [
        (2, ["1", "a"], []),
        (3, ["2", "b"], []),
        ("unsupported_encoding", 4),
    ]


def test_the_collector_is_eased_while_reading_and_restored_however_reading_ends(tmp_path):
    path = tmp_path / "file.csv"
    path.write_bytes(b"order_id,name\n1,a\n2,b\n3,c\n")
    threshold = gc.get_threshold()
    assert gc.get_freeze_count() == 0

    records = CsvSource(path).open().records()
    next(records)
    assert gc.get_threshold()[0] >= reader.READ_GC_THRESHOLD
    assert gc.get_freeze_count() > 0
    records.close()  # the consumer stopped (an error, a break)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, 0)

    assert len(list(CsvSource(path).open().records())) == 3
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, 0)

    gc.freeze()  # frozen by someone else: left frozen
    try:
        list(CsvSource(path).open().records())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert gc.get_threshold() == threshold
