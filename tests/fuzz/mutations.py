"""Hypothesis strategies that turn a valid seed request into a hostile one, and a raw HTTP sender.

Mutations keep HTTP framing intact (Content-Length is always the true body length, no Transfer-Encoding
or Upgrade games): connection-level abuse has its own tests (tests/test_http11.py). Everything inside a
well-framed request is fair game: method, path, query string, headers, and the body, mutated both
structurally (a JSON member, a form field or an XML element replaced by a wrong type, a huge number, a
non-UTF-8 or empty value, removed, duplicated) and as bytes (truncated, garbled, re-encoded).
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import cbor2
from hypothesis import strategies as st

from tests.fuzz.seeds import Seed

ODD_METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO", "get",
               "M-SEARCH"]
# Strings that have broken parsers before, or ought to: numbers past every type, NaN, encodings, escapes.
NASTY = ["", " ", "\n", "a\nb", "x" * 300, "0", "-1", "1.5", "1e309", "-1e309", "NaN", "Infinity", "nan",
         "99999999999999999999999999", str(2 ** 63), str(-2 ** 63 - 1), "0x10", "true", "null", "None", "{}",
         "[]", '{"a":', "<a>", "&amp;", "&", "%", "%zz", "%ff", "%00", "\x00", "\u00e9", "\U0001f600", "\u202e",
         "../../etc/passwd", "/", "//", "http://[", "http://[::1]:99999/", "arn:", "arn:aws:sqs:us-east-1:",
         "arn:aws:sqs:us-east-1:000000000000:", "arn:aws:lambda:us-east-1:000000000000:function:",
         "$LATEST", "*", "bytes=5-2", "bytes=-0", "bytes=0-99999999999999999999",
         "Mon, 32 Foo 2024 99:99:99 GMT", "2024-13-45T25:61:61Z", "AWS4-HMAC-SHA256",
         "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00",
         # JSON inside a string (policies, filter policies, payloads) nested past the recursion limit
         "[" * 5000, '{"a":' * 3000]
# Integers past every wire type, but never a small positive one (no honest long poll or delay).
NASTY_INTS = [0, -1, -(2 ** 31), 2 ** 31, 2 ** 53 + 1, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 10 ** 40, 11, 1001]
HEADER_NAMES = [
    "Content-Type", "Content-MD5", "Content-Encoding", "Content-Language", "Cache-Control", "Expires",
    "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Host", "Expect",
    "Origin", "Access-Control-Request-Method", "Authorization", "X-Amz-Date", "X-Amz-Target",
    "X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Amz-Copy-Source", "X-Amz-Copy-Source-Range",
    "X-Amz-Metadata-Directive", "X-Amz-Meta-Color", "X-Amz-Tagging", "X-Amz-Acl", "X-Amz-Storage-Class",
    "X-Amz-Server-Side-Encryption", "X-Amz-Checksum-Sha256", "X-Amz-Checksum-Crc32",
    "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Expected-Bucket-Owner", "X-Amz-Website-Redirect-Location",
    "X-Amz-Decoded-Content-Length", "X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context",
    "X-Amzn-Query-Mode", "X-Amz-Bypass-Governance-Retention",
]
CONTENT_TYPES = ["application/x-amz-json-1.0", "application/x-amz-json-1.1", "application/json",
                 "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data; boundary=x", "multipart/form-data", "text/xml", "application/xml",
                 "text/plain; charset=utf-16", "application/cbor", "*/*", ";;;"]
ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]><r>&d;</r>')
EXTERNAL_ENTITY = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'


# A long poll honestly waits up to 20 s on an empty queue: a fuzzed WaitTimeSeconds would only spend the
# time budget (long polls have their own tests), so the seeds' 0 is never mutated.
KEEP = {"WaitTimeSeconds"}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, bytes]]
    body: bytes

    def describe(self) -> str:
        heads = "\n".join(f"  {k}: {v!r}" for k, v in self.headers)
        return f"{self.method} {self.path}?{self.query}\n{heads}\n  body: {self.body[:600]!r}"


def texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def json_values(depth: int = 2) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.sampled_from(NASTY_INTS), st.integers(),
                       st.floats(allow_nan=True, allow_infinity=True), texts())
    if depth == 0:
        return leaves
    inner = json_values(depth - 1)
    return st.one_of(leaves, st.lists(inner, max_size=3), st.dictionaries(texts(), inner, max_size=3))


def header_values() -> st.SearchStrategy[bytes]:
    # Any byte but CR, LF and NUL (which would break the framing this test keeps intact), so latin-1 and
    # invalid UTF-8 sequences too.
    as_text = texts().map(lambda s: s.encode("utf-8", "replace"))
    as_bytes = st.binary(max_size=40)
    return st.one_of(as_text, as_bytes).map(lambda b: b.translate(None, b"\r\n\x00"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _set(document: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def encode_document(document: Any, cbor: bool) -> bytes:
    """JSON, or CBOR for rpc-v2-cbor (encoded by cbor2, independently of the server's own codec; a value it
    cannot encode falls back to JSON bytes: one more malformed body)."""
    if not cbor:
        return json.dumps(document, allow_nan=True, default=str).encode()
    try:
        return cbor2.dumps(document, datetime_as_timestamp=True)
    except (TypeError, ValueError, OverflowError, struct.error, cbor2.CBOREncodeError):
        return json.dumps(document, allow_nan=True, default=str).encode()


@st.composite
def mutate_document(draw: st.DrawFn, document: dict[str, Any], cbor: bool = False) -> bytes:
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if not (p and p[-1] in KEEP)]
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "delete" and path:
            doc = _set(doc, path, None, delete=True)
        elif op == "add":
            target = doc
            for key in path:
                target = target[key]
            if isinstance(target, dict):
                target[draw(texts())] = draw(json_values())
            elif isinstance(target, list):
                target.append(draw(json_values()))
        else:
            doc = _set(doc, path, draw(json_values()))
    return encode_document(doc, cbor)


@st.composite
def mutate_form(draw: st.DrawFn, form: tuple[tuple[str, str], ...]) -> bytes:
    pairs = list(form)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["value", "value", "drop", "add", "duplicate"]))
        index = draw(st.integers(0, len(pairs) - 1)) if pairs else 0
        kept = bool(pairs) and pairs[index][0] in KEEP
        if op == "value" and pairs and not kept:
            pairs[index] = (pairs[index][0], draw(texts()))
        elif op == "drop" and pairs:
            pairs.pop(index)
        elif op == "duplicate" and pairs and not kept:
            pairs.append((pairs[index][0], draw(texts())))
        else:
            name = draw(st.one_of(texts(), st.sampled_from([
                "Attribute.1.Name", "Attribute.99999999999.Value", "MessageAttribute.1.Value.DataType",
                "Entries.member.0.Id", "QueueUrl", "Action", "Version", "AttributeName.-1"])))
            pairs.append((name, draw(texts())))
    encoded = urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                         for k, v in pairs], quote_via=quote).encode()
    if draw(st.booleans()):
        encoded += draw(st.sampled_from([b"&%ff%fe=%c3", b"&\xff\xfe=1", b"&=&&", b"&Action", b"&a=%zz"]))
    return encoded


_XML_TEXT = re.compile(r">([^<>]*)<")
_XML_ELEMENT = re.compile(r"<([A-Za-z]+)>.*?</\1>")


@st.composite
def mutate_xml(draw: st.DrawFn, xml: str) -> bytes:
    text = xml
    for _ in range(draw(st.integers(1, 2))):
        op = draw(st.sampled_from(["text", "text", "raw", "drop", "duplicate", "bomb", "encoding"]))
        spans = list(_XML_TEXT.finditer(text))
        elements = list(_XML_ELEMENT.finditer(text))
        if op in ("text", "raw") and spans:
            span = draw(st.sampled_from(spans))
            value = draw(texts())
            if op == "text":
                value = value.replace("&", "&amp;").replace("<", "&lt;")
            text = text[:span.start(1)] + value + text[span.end(1):]
        elif op == "drop" and elements:
            element = draw(st.sampled_from(elements))
            text = text[:element.start()] + text[element.end():]
        elif op == "duplicate" and elements:
            element = draw(st.sampled_from(elements))
            text = text[:element.end()] + element.group(0) * draw(st.integers(2, 40)) + text[element.end():]
        elif op == "bomb":
            return draw(st.sampled_from([ENTITY_BOMB, EXTERNAL_ENTITY])).encode()
        elif op == "encoding":
            return ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode(
                draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")
    return text.encode("utf-8", "surrogatepass")


@st.composite
def garble(draw: st.DrawFn, body: bytes) -> bytes:
    op = draw(st.sampled_from(["truncate", "flip", "insert", "replace", "nest"]))
    if op == "truncate":
        return body[:draw(st.integers(0, max(0, len(body) - 1)))]
    if op == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        return body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1:]
    if op == "insert":
        at = draw(st.integers(0, len(body)))
        return body[:at] + draw(st.sampled_from([b"\xff\xfe", b"\xc3(", b"\xed\xa0\x80", b"\x00", b'"\\ud800"',
                                                 b"\\", b"]]>", b"<!--"])) + body[at:]
    if op == "nest":
        depth = draw(st.sampled_from([50, 1000, 100_000]))
        return draw(st.sampled_from([b"[" * depth, b'{"a":' * depth, b"<a>" * depth]))
    return draw(st.binary(max_size=200))


def _path(draw: st.DrawFn, path: str) -> str:
    op = draw(st.sampled_from(["keep", "keep", "keep", "append", "replace-segment", "encode"]))
    segments = path.split("/")
    if op == "append":
        return path.rstrip("/") + "/" + quote(draw(texts()), safe="%/")
    if op == "replace-segment" and len(segments) > 1:
        index = draw(st.integers(1, len(segments) - 1))
        segments[index] = quote(draw(texts()).encode("utf-8", "surrogatepass"), safe="%")
        return "/".join(segments) or "/"
    if op == "encode":
        return path + draw(st.sampled_from(["%", "%zz", "%ff%fe", "%00", "/..", "/../..", "//", "%2F..%2F"]))
    return path


@st.composite
def requests_for(draw: st.DrawFn, seed: Seed) -> Request:
    """One mutation of `seed`: always a different request, often in several places at once."""
    body = seed.raw
    if seed.form is not None:
        body = urlencode(seed.form, quote_via=quote).encode()
    elif seed.document is not None:
        body = encode_document(seed.document, seed.cbor)
    elif seed.xml is not None:
        body = seed.xml.encode()
    headers = [(k, v.encode()) for k, v in seed.headers]
    request = Request(seed.method, seed.path, urlencode(seed.query, quote_via=quote), headers, body)
    parts = draw(st.sets(st.sampled_from(["method", "path", "query", "header", "body", "garble"]),
                         min_size=1, max_size=3))
    if "method" in parts:
        request.method = draw(st.sampled_from(ODD_METHODS))
    if "path" in parts:
        request.path = _path(draw, seed.path)
    if "query" in parts:
        pairs = list(seed.query)
        if bool(pairs) and draw(st.booleans()):
            index = draw(st.integers(0, len(pairs) - 1))
            pairs[index] = (pairs[index][0], draw(texts()))
        else:
            pairs.append((draw(st.one_of(texts(), st.sampled_from(["Action", "uploadId", "partNumber",
                                                                   "versionId", "list-type", "max-keys",
                                                                   "X-Amz-Credential", "X-Amz-Signature",
                                                                   "X-Amz-Expires", "Qualifier"]))),
                          draw(texts())))
        request.query = urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                                   for k, v in pairs], quote_via=quote)
        if draw(st.booleans()):
            request.query += draw(st.sampled_from(["&%zz", "&=", "&&&", "&a=%ff%fe", "&" + "k=v&" * 300]))
    if "header" in parts:
        if bool(request.headers) and draw(st.booleans()):
            gone = draw(st.sampled_from([k for k, _ in request.headers]))
            request.headers = [(k, v) for k, v in request.headers if k != gone]
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(HEADER_NAMES))
            value = draw(st.one_of(header_values(), st.sampled_from(CONTENT_TYPES).map(str.encode)))
            request.headers = [(k, v) for k, v in request.headers if k.lower() != name.lower()] + [(name, value)]
    if "body" in parts:
        if seed.document is not None:
            request.body = draw(mutate_document(seed.document, seed.cbor))
        elif seed.form is not None:
            request.body = draw(mutate_form(seed.form))
        elif seed.xml is not None:
            request.body = draw(mutate_xml(seed.xml))
        else:
            request.body = draw(st.one_of(st.binary(max_size=300), texts().map(
                lambda s: s.encode("utf-8", "surrogatepass"))))
    if "garble" in parts:
        request.body = draw(garble(request.body))
    return request


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(host: str, port: int, request: Request, timeout: float) -> Answer:
    """Exactly these bytes, framed correctly (the true Content-Length), on a fresh connection."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        target = request.path + (f"?{request.query}" if request.query else "")
        connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        if not any(k.lower() == "host" for k, _ in request.headers):
            connection.putheader("Host", f"{host}:{port}")
        for name, value in request.headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
