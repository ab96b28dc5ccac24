"""multipart/form-data read as it arrives: small text fields into memory, the one file part straight
through to its consumer (storage), every size bounded while the bytes stream.

Starlette's `request.form()` spools a whole body to a temporary file before a route sees it, so an
800 MB body against a 1 MiB limit would be on disk before the 413. Here the file's bytes are handed on
chunk by chunk, and the body is cut as soon as a limit is passed.

The body is read and parsed in the event loop, never in a worker thread: a client that sends one
byte every few seconds then costs a coroutine, not one of the threads that every other request
(authentication, database reads, health checks) needs. Only whole chunks of the file go to a thread,
to be written. `BodyStream` ends a body that sends nothing for its idle timeout (RequestTimeout).

    body = BodyStream(request.stream(), idle_seconds)
    reader = MultipartReader(content_type, limits)
    await reader.read_until_file(body)             # fields sent before the file
    if reader.file is not None:
        async for chunk in reader.file_chunks(body):
            await run_in_threadpool(writer.write, chunk)
    await reader.read_to_end(body)                 # fields sent after it
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from mediajobs.api.guards import has_control
from mediajobs.errors import ClientError, InvalidRequest, PayloadTooLarge, RequestTimeout

MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096
FILE_CHUNK_BYTES = 1024 * 1024  # what one storage write in a thread gets (the last one may be less)


class FormFields(dict[str, str]):
    """A form's text fields: the last value of each name, and every value of a repeated one
    (`getlist`: `timestamp_granularities[]=word` and `=segment`)."""

    def __init__(self) -> None:
        super().__init__()
        self._lists: dict[str, list[str]] = {}

    def add(self, name: str, value: str) -> None:
        self[name] = value
        self._lists.setdefault(name, []).append(value)

    def getlist(self, name: str) -> list[str]:
        return list(self._lists.get(name, ()))


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
        self.fields = FormFields()
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

    async def read_until_file(self, body: BodyStream) -> None:
        """Parse until the file part's headers are read (or the body ends)."""
        while self.file is None and not self._ended:
            self.feed(await body.next_chunk())

    async def file_chunks(self, body: BodyStream) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive, in pieces of FILE_CHUNK_BYTES (the last may be
        shorter); PayloadTooLarge past the limit."""
        piece = bytearray()
        while True:
            while self._pending:
                piece += self._pending.popleft()
                if len(piece) >= FILE_CHUNK_BYTES:
                    yield bytes(piece)
                    piece.clear()
            if self._file_ended:
                if piece:
                    yield bytes(piece)
                return
            self.feed(await body.next_chunk())

    async def read_to_end(self, body: BodyStream) -> None:
        while not self._ended:
            self.feed(await body.next_chunk())

    def feed(self, chunk: bytes | None) -> None:
        """Parse the next piece of the body (None: the body ended)."""
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
                self.fields.add(self._field, self._data.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidRequest(f"form field {self._field[:40]!r} is not UTF-8 text") from None
        self._reset_part()

    def _end(self) -> None:
        self._ended = True
        self._file_ended = True


class BodyStream:
    """A request body, chunk by chunk, that must keep arriving: RequestTimeout when nothing comes for
    `idle_seconds`, ClientError when the client goes away mid-body."""

    def __init__(self, stream: AsyncIterator[bytes], idle_seconds: float) -> None:
        self._stream = stream
        self._idle_seconds = idle_seconds

    async def next_chunk(self) -> bytes | None:
        """The next non-empty chunk, or None once the body has ended."""
        while True:
            try:
                with anyio.fail_after(self._idle_seconds):
                    chunk = await anext(self._stream, None)
            except TimeoutError:
                raise RequestTimeout(
                    f"the request body sent nothing for {self._idle_seconds:g} seconds"
                ) from None
            except ClientDisconnect:
                raise ClientError(
                    "the client went away before the body ended", code="client_disconnected"
                ) from None
            if chunk is None or chunk:
                return chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.next_chunk()) is not None:
            yield chunk


__all__ = [
    "FILE_CHUNK_BYTES",
    "BodyStream",
    "FilePart",
    "FormFields",
    "FormLimits",
    "MalformedForm",
    "MultipartReader",
    "boundary_of",
]
