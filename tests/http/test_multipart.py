"""Multipart bodies: the streaming reader (aiohttp's MultipartReader API) over python-multipart,
and request.post() on it, with aiohttp's client, raw sockets and local streams."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from tidewire import web
from tidewire.http.forms import FileField, read_form
from tidewire.http.multipart import BodyPartReader, MultipartReader, _header_params
from tidewire.http.streams import BodyStream

BOUNDARY = "xYzZY-boundary"


def _multipart(*parts: bytes, preamble: bytes = b"", close: bool = True) -> bytes:
    delimiter = b"--" + BOUNDARY.encode()
    body = preamble
    for part in parts:
        body += delimiter + b"\r\n" + part + b"\r\n"
    if close:
        body += delimiter + b"--\r\n"
    return body


def _stream(body: bytes, step: int = 0) -> BodyStream:
    stream = BodyStream()
    step = step or len(body) or 1
    for start in range(0, len(body), step):
        stream.feed_data(body[start : start + step])
    stream.feed_eof()
    return stream


def _reader(body: bytes, boundary: str = BOUNDARY, step: int = 0) -> MultipartReader:
    headers = CIMultiDict({"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return MultipartReader(headers, _stream(body, step))


async def _form(body: bytes, boundary: str = BOUNDARY, step: int = 0, **limits: int) -> Any:
    options = {"max_size": 1 << 30, "max_fields": 1000, **limits}
    return await read_form(_reader(body, boundary, step), charset="utf-8", **options)


# the reader on local streams (no sockets) ------------------------------------------

FORM = _multipart(
    b'Content-Disposition: form-data; name="title"\r\n\r\nHello\r\nWorld',
    b'Content-Disposition: form-data; name="tag"\r\n\r\none',
    b'Content-Disposition: form-data; name="tag"\r\n\r\ntwo',
    b'Content-Disposition: form-data; name="upload"; filename="a b.bin"\r\n'
    b"Content-Type: application/x-thing\r\n\r\n\x00\x01\r\n--not-a-boundary\xff",
    b'Content-Disposition: form-data; name="empty"\r\n\r\n',
)


@pytest.mark.parametrize("step", [0, 1, 7])
async def test_preamble_split_across_reads(step: int) -> None:
    body = _multipart(
        b'Content-Disposition: form-data; name="n"\r\n\r\nv',
        preamble=b"pre --" + BOUNDARY.encode() + b"x not a delimiter line\r\n" * 3,
    )
    assert (await _form(body, step=step))["n"] == "v"


@pytest.mark.parametrize("step", [0, 1, 7])
async def test_form_fields_and_file(step: int) -> None:
    fields = await _form(FORM, step=step)
    assert fields["title"] == "Hello\r\nWorld"
    assert fields.getall("tag") == ["one", "two"]
    assert fields["empty"] == ""
    upload = fields["upload"]
    assert isinstance(upload, FileField)
    assert upload.name == "upload"
    assert upload.filename == "a b.bin"
    assert upload.content_type == "application/x-thing"
    assert upload.file.read() == b"\x00\x01\r\n--not-a-boundary\xff"
    assert upload.headers["Content-Type"] == "application/x-thing"
    assert [key for key, _ in fields.items()] == ["title", "tag", "tag", "upload", "empty"]


@pytest.mark.parametrize("step", [0, 1, 5])
async def test_reader_parts_in_chunks(step: int) -> None:
    reader = _reader(FORM, step=step)
    seen = []
    async for part in reader:
        assert isinstance(part, BodyPartReader)
        chunks = []
        while chunk := await part.read_chunk(3):
            assert len(chunk) <= 3
            chunks.append(chunk)
        assert part.at_eof()
        seen.append((part.name, part.filename, b"".join(chunks)))
    assert reader.at_eof()
    assert await reader.next() is None
    assert seen == [
        ("title", None, b"Hello\r\nWorld"),
        ("tag", None, b"one"),
        ("tag", None, b"two"),
        ("upload", "a b.bin", b"\x00\x01\r\n--not-a-boundary\xff"),
        ("empty", None, b""),
    ]


async def test_next_releases_an_unread_part() -> None:
    reader = _reader(FORM, step=4)
    first = await reader.next()
    assert isinstance(first, BodyPartReader)
    assert await first.read_chunk(2) == b"He"
    second = await reader.next()
    assert isinstance(second, BodyPartReader)
    assert await second.text() == "one"
    await reader.release()
    assert reader.at_eof()


async def test_preamble_and_part_charset() -> None:
    body = _multipart(
        b'Content-Disposition: form-data; name="n"\r\n'
        b"Content-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9",
        preamble=b"This is a preamble.\r\n",
    )
    assert (await _form(body))["n"] == "caf\u00e9"


async def test_file_without_content_type_defaults_to_text_plain() -> None:
    body = _multipart(b'Content-Disposition: form-data; name="f"; filename="x.txt"\r\n\r\nabc')
    field = (await _form(body))["f"]
    assert isinstance(field, FileField)
    assert field.content_type == "text/plain"
    assert field.file.read() == b"abc"


async def test_rfc2231_filename_and_base64_part() -> None:
    body = _multipart(
        b"Content-Disposition: form-data; name=\"f\"; filename*=utf-8''caf%C3%A9.txt\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=",
    )
    part = await _reader(body).next()
    assert isinstance(part, BodyPartReader)
    assert part.filename == "caf\u00e9.txt"
    assert await part.read(decode=True) == b"hello"


async def test_json_and_form_parts() -> None:
    body = _multipart(
        b'Content-Disposition: form-data; name="j"\r\nContent-Type: application/json\r\n\r\n'
        b'{"a": [1, 2]}',
        b'Content-Disposition: form-data; name="u"\r\n\r\nx=1&y=%C3%A9',
    )
    reader = _reader(body)
    part = await reader.next()
    assert isinstance(part, BodyPartReader)
    assert await part.json() == {"a": [1, 2]}
    part = await reader.next()
    assert isinstance(part, BodyPartReader)
    assert await part.form() == [("x", "1"), ("y", "\u00e9")]


async def test_nested_multipart() -> None:
    inner = (
        b'--inner\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\nAAA\r\n'
        b'--inner\r\nContent-Disposition: attachment; filename="b.txt"\r\n\r\nBBB\r\n'
        b"--inner--\r\n"
    )
    body = _multipart(
        b'Content-Disposition: form-data; name="files"\r\n'
        b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n" + inner,
        b'Content-Disposition: form-data; name="after"\r\n\r\nend',
    )
    for step in (0, 3):
        reader = _reader(body, step=step)
        nested = await reader.next()
        assert isinstance(nested, MultipartReader)
        names = [(p.filename, await p.read()) async for p in nested]  # type: ignore[union-attr]
        assert names == [("a.txt", b"AAA"), ("b.txt", b"BBB")]
        after = await reader.next()
        assert isinstance(after, BodyPartReader)
        assert await after.text() == "end"
        assert await reader.next() is None
    reader = _reader(body)  # a nested reader left unread is skipped by next()
    assert isinstance(await reader.next(), MultipartReader)
    after = await reader.next()
    assert isinstance(after, BodyPartReader) and after.name == "after"


@pytest.mark.parametrize(
    ("body", "boundary"),
    [
        pytest.param(
            _multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n1'), "", id="no-boundary"
        ),
        pytest.param(
            _multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n1'),
            "b" * 71,
            id="boundary-too-long",
        ),
        pytest.param(b"no delimiter at all", BOUNDARY, id="no-opening-boundary"),
        pytest.param(
            _multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n1', close=False),
            BOUNDARY,
            id="not-terminated",
        ),
        pytest.param(
            _multipart(b"Content-Disposition: form-data\r\n\r\n1"), BOUNDARY, id="part-no-name"
        ),
        pytest.param(
            _multipart(b'Content-Disposition: attachment; name="a"\r\n\r\n1'),
            BOUNDARY,
            id="not-form-data",
        ),
        pytest.param(
            _multipart(b'Content-Disposition: form-data; name="a"\r\nbroken header\r\n\r\n1'),
            BOUNDARY,
            id="header-without-colon",
        ),
        pytest.param(
            _multipart(b'Content-Disposition: form-data; name="a"'),
            BOUNDARY,
            id="no-header-end",
        ),
        pytest.param(
            b"--" + BOUNDARY.encode() + b"garbage\r\n\r\n--" + BOUNDARY.encode() + b"--",
            BOUNDARY,
            id="junk-after-delimiter",
        ),
        pytest.param(
            _multipart(
                b'Content-Disposition: form-data; name="a"\r\n'
                b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe"
            ),
            BOUNDARY,
            id="field-not-in-charset",
        ),
        pytest.param(
            _multipart(
                b'Content-Disposition: form-data; name="a"\r\n'
                + b"".join(b"X-H%d: v\r\n" % i for i in range(40))
                + b"\r\n1"
            ),
            BOUNDARY,
            id="too-many-part-headers",
        ),
    ],
)
async def test_malformed_form_is_400(body: bytes, boundary: str) -> None:
    with pytest.raises(web.HTTPBadRequest):
        await _form(body, boundary)


async def test_field_and_size_caps() -> None:
    body = _multipart(*[b'Content-Disposition: form-data; name="f"\r\n\r\nv'] * 11)
    assert len((await _form(body, max_fields=11)).getall("f")) == 11
    with pytest.raises(web.HTTPRequestEntityTooLarge) as failure:
        await _form(body, max_fields=10)
    assert failure.value.text == "Maximum number of form fields 10 exceeded."
    with pytest.raises(web.HTTPRequestEntityTooLarge):
        await _form(body, max_size=10)


# on the wire, with aiohttp's client -------------------------------------------------


async def test_post_with_aiohttp_formdata(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, FileField)
        data = upload.file.read()
        upload.file.close()
        return web.json_response(
            {
                "name": form["name"],
                "file": [upload.filename, upload.content_type, hashlib.sha256(data).hexdigest()],
            }
        )

    payload = os.urandom(300_000)  # past the in-memory spool: a temporary file
    srv = await serve(handler)
    form = aiohttp.FormData()
    form.add_field("name", "caf\u00e9")
    form.add_field("file", payload, filename="p.bin", content_type="application/x-p")
    async with aiohttp.ClientSession() as session, session.post(srv.url(), data=form) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "name": "caf\u00e9",
            "file": ["p.bin", "application/x-p", hashlib.sha256(payload).hexdigest()],
        }


async def test_upload_larger_than_client_max_size_streams_to_disk(
    serve: Any, tmp_path: Path
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 11)

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/post":
            await request.post()
            return web.Response(text="not reached")
        reader = await request.multipart()
        saved = {}
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            if part.filename is None:
                saved[part.name] = await part.text()
                continue
            target = tmp_path / part.filename
            largest = 0
            with open(target, "wb") as f:
                while chunk := await part.read_chunk(64 * 1024):
                    largest = max(largest, len(chunk))
                    f.write(chunk)
            saved[part.name] = [target.stat().st_size, largest]
        return web.json_response(saved)

    srv = await serve(handler, client_max_size=1024 * 1024)
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("note", "big one")
        form.add_field("blob", payload, filename="blob.bin")
        async with session.post(srv.url("/stream"), data=form) as resp:
            assert resp.status == 200
            assert await resp.json() == {"note": "big one", "blob": [len(payload), 64 * 1024]}
        assert (tmp_path / "blob.bin").read_bytes() == payload
        form = aiohttp.FormData()
        form.add_field("blob", payload, filename="blob.bin")
        async with session.post(srv.url("/post"), data=form) as resp:
            assert resp.status == 413


async def test_nested_multipart_from_aiohttp_writer(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        out = []
        async for part in await request.multipart():
            if isinstance(part, MultipartReader):
                out.append([await p.text() async for p in part])  # type: ignore[union-attr]
            else:
                out.append(await part.text())
        return web.json_response(out)

    srv = await serve(handler)
    with aiohttp.MultipartWriter("mixed") as outer:
        outer.append("first")
        with aiohttp.MultipartWriter("related") as inner:
            inner.append("a")
            inner.append_json({"b": 2})
        outer.append(inner)
        outer.append("last")
    async with aiohttp.ClientSession() as session, session.post(srv.url(), data=outer) as resp:
        assert await resp.json() == ["first", ["a", json.dumps({"b": 2})], "last"]


async def test_post_field_cap_for_both_encodings(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        request = request.clone(client_max_fields=5)
        return web.Response(text=str(len(await request.post())))

    srv = await serve(handler)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.url(), data={f"k{i}": "v" for i in range(5)}) as resp:
            assert await resp.text() == "5"
        async with session.post(srv.url(), data={f"k{i}": "v" for i in range(6)}) as resp:
            assert resp.status == 413
        form = aiohttp.FormData()
        for i in range(6):
            form.add_field(f"k{i}", "v")
        form.add_field("f", b"x", filename="x")  # forces multipart
        async with session.post(srv.url(), data=form) as resp:
            assert resp.status == 413


async def test_multipart_on_a_non_multipart_body_is_400(serve: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        await request.multipart()
        return web.Response(text="no")

    srv = await serve(handler)
    headers = {"Content-Type": "text/plain"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(srv.url(), data=b"x", headers=headers) as resp,
    ):
        assert resp.status == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            'form-data; name="a"; filename="x;y.txt"',
            ("form-data", {"name": "a", "filename": "x;y.txt"}),
        ),
        ('form-data; name="q\\"uote"', ("form-data", {"name": 'q"uote'})),
        ("FORM-DATA; NAME=plain", ("form-data", {"name": "plain"})),
        ("form-data; filename*=utf-8''%E2%82%AC.txt", ("form-data", {"filename": "\u20ac.txt"})),
        ("attachment", ("attachment", {})),
        ("", ("", {})),
    ],
)
def test_header_params(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert _header_params(value) == expected
