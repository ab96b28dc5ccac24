"""multipart/form-data read as it arrives: small text fields into memory, the one file part straight
through to its consumer (storage), every size bounded while the bytes stream.

Starlette's `request.form()` spools a whole body to a temporary file before a route sees it, so an
800 MB body against a 1 MiB limit would be on disk before the 413. Here the file's bytes are handed on
chunk by chunk, and the body is cut as soon as a limit is passed. The reader is synchronous (it runs
in a worker thread, pulling the body from the event loop); `body_chunks` does that bridging.

    reader = MultipartReader(content_type, limits)
    reader.read_until_file(chunks)                 # fields sent before the file
    if reader.file is not None:
        stored = storage.write(key, reader.file_chunks(chunks))
    reader.read_to_end(chunks)                     # fields sent after it
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio.from_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediajobs.api.guards import has_control
from mediajobs.errors import ClientError, InvalidRequest, PayloadTooLarge

MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096


@dataclass(frozen=True, kw_only=True, slots=True)
class FormLimits:
    max_file_bytes: int
    max_fields: int = 10
    max_field_bytes: int = 64 * 1024
    file_field: str = "file"

    @property
    def max_body_bytes(self) -> int:
        """The file plus every field at its largest plus room for part headers."""
        return self.max_file_bytes + (self.max_fields + 1) * (
            self.max_field_bytes + 2 * MAX_PART_HEADER_BYTES
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class FilePart:
    filename: str | None
    content_type: str | None


class MalformedForm(ClientError):
    """Raised when a multipart body cannot be read (-> 400)."""

    code = "malformed_multipart"


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedForm("expected multipart/form-data with a boundary")
    if len(boundary) > 200:
        raise MalformedForm("the multipart boundary is longer than 200 bytes")
    return boundary


class MultipartReader:
    """One multipart body; see the module's docstring for the order of calls."""

    def __init__(self, content_type: str, limits: FormLimits) -> None:
        self.limits = limits
        self.fields: dict[str, str] = {}
        self.file: FilePart | None = None
        self._parser = MultipartParser(
            boundary_of(content_type),
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            max_header_count=MAX_PART_HEADERS,
            max_header_size=MAX_PART_HEADER_BYTES,
        )
        self._body_bytes = 0
        self._file_bytes = 0
        self._ended = False
        self._file_ended = False
        self._pending: collections.deque[bytes] = collections.deque()
        self._reset_part()

    # -- driving ---------------------------------------------------------------------------------

    def read_until_file(self, chunks: Iterator[bytes]) -> None:
        """Parse until the file part's headers are read (or the body ends)."""
        while self.file is None and not self._ended:
            self._feed(chunks)

    def file_chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """The file part's bytes as they arrive; PayloadTooLarge past the limit."""
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self._file_ended:
                return
            self._feed(chunks)

    def read_to_end(self, chunks: Iterator[bytes]) -> None:
        while not self._ended:
            self._feed(chunks)

    def _feed(self, chunks: Iterator[bytes]) -> None:
        chunk = next(chunks, None)
        if chunk is None:
            raise MalformedForm("the multipart body ended before its closing boundary")
        self._body_bytes += len(chunk)
        if self._body_bytes > self.limits.max_body_bytes:
            raise PayloadTooLarge(f"the request body exceeds {self.limits.max_body_bytes} bytes")
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise MalformedForm(f"malformed multipart body: {str(exc)[:200]}") from None

    # -- parser callbacks ------------------------------------------------------------------------

    def _reset_part(self) -> None:
        self._name = bytearray()
        self._value = bytearray()
        self._headers: dict[str, str] = {}
        self._field: str | None = None
        self._in_file = False
        self._data = bytearray()

    def _part_begin(self) -> None:
        self._reset_part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = self._name.decode("latin-1").lower()
        value = self._value.decode("latin-1")
        if has_control(name) or has_control(value.replace("\t", " ")):
            raise InvalidRequest(
                f"a multipart part header {name[:40]!r} contains a control character",
                code="invalid_characters",
            )
        self._headers[name] = value
        self._name, self._value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name")
        if disposition != b"form-data" or name is None:
            raise MalformedForm("every multipart part needs `Content-Disposition: form-data; name=...`")
        field = name.decode("utf-8", errors="replace")
        if field == self.limits.file_field:
            if self.file is not None:
                raise InvalidRequest(f"send one `{field}` part, not several", code="too_many_files")
            filename = params.get(b"filename")
            content_type = self._headers.get("content-type")
            self.file = FilePart(
                filename=None if filename is None else filename.decode("utf-8", errors="replace"),
                content_type=content_type.strip()[:200] if content_type else None,
            )
            self._in_file = True
            return
        if b"filename" in params:
            raise InvalidRequest(
                f"send the file as the `{self.limits.file_field}` part, not {field[:40]!r}",
                code="missing_file",
            )
        if len(self.fields) >= self.limits.max_fields:
            raise InvalidRequest(f"more than {self.limits.max_fields} form fields", code="too_many_fields")
        self._field = field

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file_bytes += end - start
            if self._file_bytes > self.limits.max_file_bytes:
                raise PayloadTooLarge(f"upload exceeds the limit of {self.limits.max_file_bytes} bytes")
            self._pending.append(bytes(data[start:end]))
            return
        self._data += data[start:end]
        if len(self._data) > self.limits.max_field_bytes:
            raise PayloadTooLarge(f"form field {self._field!r} exceeds {self.limits.max_field_bytes} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            self._file_ended = True
        elif self._field is not None:
            try:
                self.fields[self._field] = self._data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest(f"form field {self._field[:40]!r} is not UTF-8 text") from None
        self._reset_part()

    def _end(self) -> None:
        self._ended = True
        self._file_ended = True


def body_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """A request body's async stream as a plain iterator, for code running in a worker thread."""

    async def next_chunk() -> bytes | None:
        return await anext(stream, None)

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk


__all__ = ["FilePart", "FormLimits", "MalformedForm", "MultipartReader", "body_chunks", "boundary_of"]
