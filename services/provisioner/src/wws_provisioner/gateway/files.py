"""``/w/<workspace>/files``: list, read, upload, make and delete files in a workspace's
home volume, from the host (the workspace need not run). All the filesystem work is in
:mod:`wws_provisioner.gateway.fspath`, in a thread; bodies stream both ways, so a large
file never sits in memory.

Every path is a ``path`` query parameter relative to the home (``""``: the home itself)::

    GET    /list?path=dir                     files:read   {"path", "entries": [Entry]}
    GET    /stat?path=p                       files:read   Entry (a symlink is described)
    GET    /content?path=p                    files:read   the bytes, as an attachment
    PUT    /content?path=p&overwrite=false    files:write  the raw body becomes the file: 201 Entry
    POST   /upload?path=dir&overwrite=false   files:write  multipart files into dir: 201 {"files"}
    POST   /mkdir?path=p&parents=false        files:write  201 Entry
    DELETE ?path=p&recursive=false            files:write  204
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import msgspec
import multipart  # type: ignore[import-untyped]  # litestar's own multipart parser, untyped
from litestar import Request, Router, delete, get, post, put
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from wws_provisioner.gateway.context import GatewayContext, GatewayError, claims_of, note_use, require
from wws_provisioner.gateway.fspath import Entry, Home, Listing, Reader, Upload, split_path

READ_CHUNK = 256 * 1024
WRITE_BATCH = 1024 * 1024
"""Bytes gathered before a hop to a thread to write them (a request arrives in ~64 KiB)."""
FORM_SLACK = 1024 * 1024
"""What a multipart body may carry beyond its files (boundaries, part headers, fields)."""
MAX_FORM_PARTS = 256

Req = Request[Any, Any, Any]


class Uploaded(msgspec.Struct, frozen=True, kw_only=True):
    files: list[Entry]


def files_router(ctx: GatewayContext) -> Router:
    cap = ctx.settings.max_upload_mb * 1024 * 1024

    async def home_for(request: Req, workspace_id: uuid.UUID, scope: str) -> Home:
        claims = claims_of(request.scope)
        require(claims, workspace_id, scope)
        ref = await ctx.locate(workspace_id, need_running=False)
        if ref.home is None:
            raise GatewayError(404, "the workspace has no home volume on this host")
        note_use(ctx.activity, claims, "files")
        return Home(ref.home)

    @get("/list")
    async def list_dir(request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "") -> Listing:
        home = await home_for(request, workspace_id, "files:read")
        return await asyncio.to_thread(home.listdir, path)

    @get("/stat")
    async def stat(request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "") -> Entry:
        home = await home_for(request, workspace_id, "files:read")
        return await asyncio.to_thread(home.stat, path)

    @get("/content")
    async def download(request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "") -> Stream:
        home = await home_for(request, workspace_id, "files:read")
        reader = await asyncio.to_thread(home.open_read, path)
        return Stream(
            _read_chunks(reader),
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(reader.size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(reader.entry.name, safe='')}",
            },
        )

    @put("/content", status_code=201)
    async def upload_raw(
        request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "", overwrite: FromQuery[bool] = False
    ) -> Entry:
        home = await home_for(request, workspace_id, "files:write")
        _refuse_announced(request, cap)
        upload = await asyncio.to_thread(home.create, path, overwrite=overwrite, max_bytes=cap)
        try:
            batch = _Batch(upload)
            async for chunk in _limited(request.stream(), cap):
                await batch.add(chunk)
            await batch.flush()
            return await asyncio.to_thread(upload.commit)
        finally:
            upload.abort()  # a no-op after commit; blocks at most one batch write when cancelled

    @post("/upload", status_code=201)
    async def upload_form(
        request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "", overwrite: FromQuery[bool] = False
    ) -> Uploaded:
        home = await home_for(request, workspace_id, "files:write")
        _refuse_announced(request, cap + FORM_SLACK)
        boundary = _boundary(request.headers.get("content-type", ""))
        split_path(path)  # a bad directory is refused before the body is read
        files = await _save_form(home, path, boundary, _limited(request.stream(), cap + FORM_SLACK), overwrite, cap)
        return Uploaded(files=files)

    @post("/mkdir", status_code=201)
    async def mkdir(
        request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "", parents: FromQuery[bool] = False
    ) -> Entry:
        home = await home_for(request, workspace_id, "files:write")
        return await asyncio.to_thread(home.mkdir, path, parents=parents)

    @delete("/")
    async def remove(
        request: Req, workspace_id: FromPath[uuid.UUID], path: FromQuery[str] = "", recursive: FromQuery[bool] = False
    ) -> None:
        home = await home_for(request, workspace_id, "files:write")
        await asyncio.to_thread(home.delete, path, recursive=recursive)

    return Router(
        path="/w/{workspace_id:uuid}/files",
        route_handlers=[list_dir, stat, download, upload_raw, upload_form, mkdir, remove],
        # the limit is ours (max_upload_mb), counted while streaming; Litestar's would be 10 MB
        request_max_body_size=None,
    )


async def _read_chunks(reader: Reader) -> AsyncIterator[bytes]:
    # at most the size announced in Content-Length, even if the file grows meanwhile
    try:
        left = reader.size
        while left > 0:
            chunk = await asyncio.to_thread(reader.read, min(READ_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        reader.close()


def _refuse_announced(request: Req, limit: int) -> None:
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > limit:
        raise GatewayError(413, f"the request body is larger than the limit of {limit} bytes")


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    # a chunked body announces no length: count what comes
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise GatewayError(413, f"the request body is larger than the limit of {limit} bytes")
        yield chunk


class _Batch:
    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.parts: list[bytes] = []
        self.size = 0

    async def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= WRITE_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.parts:
            data = b"".join(self.parts)
            self.parts.clear()
            self.size = 0
            await asyncio.to_thread(self.upload.write, data)


def _boundary(content_type: str) -> str:
    kind, options = multipart.parse_options_header(content_type)
    if kind != "multipart/form-data":
        raise GatewayError(415, "the body must be multipart/form-data")
    boundary = options.get("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise GatewayError(400, "the multipart/form-data body has no boundary")
    return boundary


def safe_filename(filename: str) -> str:
    """The file name of an uploaded part: its last path component (old browsers send a
    whole Windows path), never empty, ``.`` or ``..``."""
    name = filename.replace("\\", "/").rpartition("/")[2]
    if name in ("", ".", "..") or "\x00" in name:
        raise GatewayError(400, f"not a usable file name: {filename[:80]!r}")
    return name


async def _save_form(
    home: Home, directory: str, boundary: str, chunks: AsyncIterator[bytes], overwrite: bool, cap: int
) -> list[Entry]:
    """Each file part of the form, saved in ``directory``: all of them or, on any error,
    none (the files together may not exceed ``cap``; other fields are ignored)."""
    uploads: list[Upload] = []
    batch: _Batch | None = None
    left = cap
    try:
        try:
            with multipart.PushMultipartParser(boundary, max_segment_count=MAX_FORM_PARTS) as parser:
                async for chunk in chunks:
                    for event in parser.parse(chunk):
                        if isinstance(event, multipart.MultipartSegment):
                            batch = await _start_part(home, directory, event, uploads, overwrite, left)
                        elif event is None:
                            if batch is not None:
                                await batch.flush()
                                left -= batch.upload.written
                            batch = None
                        elif batch is not None:
                            await batch.add(bytes(event))
                    if parser.closed:
                        break
        except multipart.ParserLimitReached:
            raise GatewayError(
                413, f"the form has too many parts or too large headers (at most {MAX_FORM_PARTS} parts)"
            ) from None
        except multipart.MultipartError:
            raise GatewayError(400, "the body is not valid multipart/form-data") from None
        if not uploads:
            raise GatewayError(400, "the form holds no file")
        return [await asyncio.to_thread(u.commit) for u in uploads]
    finally:
        for upload in uploads:
            upload.abort()  # a no-op for those committed


async def _start_part(
    home: Home, directory: str, segment: Any, uploads: list[Upload], overwrite: bool, left: int
) -> _Batch | None:
    filename = segment.filename
    if not filename:  # a plain field, or a file input with no file chosen
        return None
    name = safe_filename(filename)
    path = f"{directory}/{name}" if directory else name
    if any(u.path == "/".join(split_path(path)) for u in uploads):
        raise GatewayError(400, f"the form holds {name!r} twice")
    upload = await asyncio.to_thread(home.create, path, overwrite=overwrite, max_bytes=left)
    uploads.append(upload)
    return _Batch(upload)
