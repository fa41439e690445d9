"""Reading input files: gzip, bounded line reads, and a peek for format detection."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


class TruncatedInput(Exception):
    """The file ended part-way (a cut gzip stream, for instance)."""


@dataclass(frozen=True)
class Line:
    """One physical line; `data` is None when it exceeded the record size limit."""

    number: int
    data: bytes | None
    size: int


class Source:
    """A local input file, transparently gunzipped."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        self._raw: BinaryIO | None = None
        with self.path.open("rb") as raw:
            self.gzipped = raw.read(2) == GZIP_MAGIC

    @property
    def name(self) -> str:
        return str(self.path)

    def open(self) -> BinaryIO:
        """A fresh binary stream; `position()` follows it in raw (compressed) bytes."""
        self._raw = self.path.open("rb")
        if self.gzipped:
            return gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[return-value]
        return self._raw

    def position(self) -> int:
        """Raw bytes consumed so far by the latest stream: drives progress bars."""
        raw = getattr(self, "_raw", None)
        try:
            return raw.tell() if raw is not None and not raw.closed else self.size
        except (OSError, ValueError):
            return 0

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def head(self, size: int = 65536) -> bytes:
        """The first bytes (decompressed), BOM removed; short if the file is."""
        with self.open() as f:
            try:
                data = f.read(size)
            except (EOFError, OSError, zlib.error):
                data = b""
        return data.removeprefix(UTF8_BOM)

    def lines(self, max_bytes: int) -> Iterator[Line]:
        """Lines with their 1-based numbers; an over-long line is skipped without holding it."""
        with self.open() as f:
            number = 0
            try:
                while True:
                    chunk = f.readline(max_bytes + 1)
                    if not chunk:
                        return
                    number += 1
                    if number == 1:
                        chunk = chunk.removeprefix(UTF8_BOM)
                    if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
                        size = len(chunk)
                        while chunk and not chunk.endswith(b"\n"):
                            chunk = f.readline(_CHUNK)
                            size += len(chunk)
                        yield Line(number, None, size)
                        continue
                    yield Line(number, chunk, len(chunk))
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise TruncatedInput(f"input ends part-way after line {number}: {exc}") from exc

    def text_stream(self) -> io.TextIOWrapper:
        return io.TextIOWrapper(self.open(), encoding="utf-8-sig", newline="")
