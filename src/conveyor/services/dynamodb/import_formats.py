"""The source files of ImportTable: decompressed (GZIP, ZSTD or NONE) and read as DynamoDB JSON, Ion or CSV,
each record an item or the error that keeps it out.

DynamoDB JSON: one `{"Item": {...}}` a record, records separated by newlines (or by nothing at all: a
reader takes one JSON value after another). Ion: `$ion_1_0 {Item:{...}}` records. CSV: the first line is
the header unless HeaderList names the columns; the delimiter is `,` unless Delimiter says another; the
key attributes (the table's and its indexes') take the type of their AttributeDefinitions, every other
column is a string, an empty cell no attribute. A file whose rest cannot be read (broken JSON, a
truncated gzip stream) ends with one error for it.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.Format.html
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.services.dynamodb import ion
from conveyor.services.dynamodb.stored import from_wire
from conveyor.services.dynamodb.values import Item


@dataclass(frozen=True)
class Record:
    """One record of a source file: an item, or why it could not be read."""

    item: Item | None
    error: str | None = None


def decompress(data: bytes, compression: str) -> bytes:
    """A source file's bytes, decompressed; ValueError when they are not what the compression says."""
    if compression == "GZIP":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"The file is not valid GZIP: {exc}") from None
    if compression == "ZSTD":
        import zstandard

        try:
            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
        except zstandard.ZstdError as exc:
            raise ValueError(f"The file is not valid ZSTD: {exc}") from None
    return data


def records(text: str, input_format: str, csv_options: Mapping[str, Any] | None = None,
            types: Mapping[str, str] | None = None) -> Iterator[Record]:
    if input_format == "ION":
        yield from _ion(text)
    elif input_format == "CSV":
        yield from _csv(text, csv_options or {}, types or {})
    else:
        yield from _json(text)


def _json(text: str) -> Iterator[Record]:
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError as exc:
            yield Record(None, f"Unexpected content in the file: {exc.args[0]}")
            return  # the rest of the file cannot be told apart from this record
        if not isinstance(value, dict) or set(value) != {"Item"} or not isinstance(value["Item"], dict):
            yield Record(None, "The record is not of the form {\"Item\": {...}}")
            continue
        try:
            yield Record(from_wire(value["Item"]))
        except Exception as exc:  # any shape that is not an attribute value's
            yield Record(None, f"The item is not DynamoDB JSON: {exc!r}")


def _ion(text: str) -> Iterator[Record]:
    try:
        lines = ion.read_items(text)
    except ion.IonError as exc:  # the reader keeps no place to restart from: one error for the file
        yield Record(None, f"Unexpected content in the file: {exc}")
        return
    for line in lines:
        if set(line) != {"Item"}:
            yield Record(None, "The record is not of the form {Item:{...}}")
        else:
            yield Record(line["Item"])


def _csv(text: str, options: Mapping[str, Any], types: Mapping[str, str]) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=options.get("Delimiter") or ",")
    header: Sequence[str] | None = options.get("HeaderList")
    try:
        for row in reader:
            if header is None:
                header = row
                continue
            if not any(row):
                continue  # a blank line
            if len(row) > len(header):
                yield Record(None, f"The row has {len(row)} columns, the header {len(header)}")
                continue
            yield _csv_item(header, row, types)
    except csv.Error as exc:
        yield Record(None, f"Unexpected content in the file: {exc}")


def _csv_item(header: Sequence[str], row: Sequence[str], types: Mapping[str, str]) -> Record:
    item: Item = {}
    for name, cell in zip(header, row, strict=False):
        if cell == "":
            continue
        kind = types.get(name, "S")
        if kind == "B":
            try:
                item[name] = {"B": base64.b64decode(cell, validate=True)}
            except binascii.Error:
                return Record(None, f"The value of {name} is not base64: {cell}")
        else:
            item[name] = {kind: cell}
    return Record(item)
