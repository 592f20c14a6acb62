"""ExportTableToPointInTime, DescribeExport, ListExports: a table's items at a point in time, or the changes
of a time window, written to an S3 bucket as AWS writes them.

Under `{S3Prefix}/AWSDynamoDB/{ExportId}/`: an empty `_started` (written first: it proves the bucket
writable), the data files `data/{name}.json.gz` (or `.ion.gz`; gzip, one item a line), `manifest-files.json`
(one line per data file: itemCount, md5Checksum, etag, dataFileS3Key), `manifest-summary.json` (compact
JSON, `s3Prefix` null when none), and the MD5 of each manifest (base64) in a `.md5` beside it, as AWS's
exports hold them (the guide calls them `.checksum` files). A full export's line is `{"Item": {...}}`; an
incremental export's is `{"Metadata": {"WriteTimestampMicros": ...}, "Keys": ..., "NewImage": ...,
"OldImage": ...}`, one per item changed in the window (compacted: its state before the window and after
it), and its data files go to the `AWSDynamoDB/data/` folder its exports share.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportTableToPointInTime.html

The table's state comes from point-in-time recovery's history (conveyor.services.dynamodb.pitr), so the
export is of ExportTime exactly, whatever is written while it runs; it needs point-in-time recovery enabled.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors, ion, pitr
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.catalog import table_name
from conveyor.services.dynamodb.stored import load_item, wire_item
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.transfers import Out, Transfers, iso, public, s3_failure
from conveyor.services.dynamodb.values import Item, item_size
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        DescribeExportInputTypeDef,
        ExportTableToPointInTimeInputTypeDef,
        ListExportsInputTypeDef,
    )

FILE_ITEMS = 50_000  # items in one data file
# An incremental export's window: 15 minutes to 24 hours.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.HowItWorks.html
MIN_WINDOW, MAX_WINDOW = 15 * 60.0, 24 * 3600.0


def _seconds(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)


def _file_name(export_arn: str, number: int) -> str:
    """A data file's name, AWS-like (26 base32 characters) and the same each time the export runs, so that
    an export run again after a restart overwrites its files rather than leaving strays."""
    digest = hashlib.sha256(f"{export_arn}:{number}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


def _invalid_time(message: str) -> ServiceError:
    return ServiceError("InvalidExportTimeException", message)


class ExportOperations:
    def __init__(self, backend: Backend, transfers: Transfers) -> None:
        self.backend = backend
        self.transfers = transfers
        transfers.jobs["export"] = self._export

    # -- the API ---------------------------------------------------------------------------------------
    async def ExportTableToPointInTime(self, ctx: RequestContext, params: ExportTableToPointInTimeInputTypeDef
                                       ) -> Out:
        arn = params["TableArn"]
        table = self.backend.catalog.tables.get((ctx.region, table_name(arn))) if ":table/" in arn else None
        if table is None or table.arn(self.backend.account) != arn:
            raise errors.table_not_found_by_backups(arn)
        if not table.pitr_since:
            raise ServiceError("PointInTimeRecoveryUnavailableException",
                               f"Point in time recovery is not enabled for table '{table.name}'")
        now = self.backend.now()
        earliest, _ = pitr.window(table, now)
        kind = params.get("ExportType") or "FULL_EXPORT"
        description: Out = {
            "_kind": "export", "_region": ctx.region, "_table_id": table.id,
            "ExportStatus": "IN_PROGRESS", "StartTime": now, "TableArn": arn,
            "TableId": table.describe(self.backend.account, 0, 0)["TableId"],
            "S3Bucket": params["S3Bucket"], "S3BucketOwner": params.get("S3BucketOwner") or self.backend.account,
            "S3SseAlgorithm": params.get("S3SseAlgorithm") or "AES256",
            "ExportFormat": params.get("ExportFormat") or "DYNAMODB_JSON", "ExportType": kind,
        }
        for member in ("S3Prefix", "S3SseKmsKeyId", "ClientToken"):
            if params.get(member):
                description[member] = params[member]
        if kind == "INCREMENTAL_EXPORT":
            description["IncrementalExportSpecification"] = self._window(table, params, earliest, now)
        else:
            when = _seconds(params["ExportTime"]) if params.get("ExportTime") is not None else now
            if not pitr.restorable(table, when, now):
                raise _invalid_time("Export time must be within the table's point in time recovery period "
                                    f"(from {iso(earliest)} to {iso(now)})")
            description["ExportTime"] = when
        existing = self._same_request(description)
        if existing is not None:
            return {"ExportDescription": public(existing)}
        export_id = f"{int(now * 1000):014d}-{secrets.token_hex(4)}"
        description["ExportArn"] = f"{arn}/export/{export_id}"
        description["ExportManifest"] = self._folder(description, export_id) + "manifest-summary.json"
        await self.transfers.save(description)
        self.transfers.start(description)
        return {"ExportDescription": public(description)}

    def _window(self, table: Table, params: ExportTableToPointInTimeInputTypeDef, earliest: float, now: float
                ) -> Out:
        spec = params.get("IncrementalExportSpecification") or {}
        if spec.get("ExportFromTime") is None:
            raise errors.validation("IncrementalExportSpecification.ExportFromTime is required for an "
                                    "INCREMENTAL_EXPORT")
        start = _seconds(spec["ExportFromTime"])
        end = _seconds(spec["ExportToTime"]) if spec.get("ExportToTime") is not None else now
        if not (pitr.restorable(table, start, now) and pitr.restorable(table, end, now)):
            raise _invalid_time("The incremental export period must be within the table's point in time recovery "
                                f"period (from {iso(earliest)} to {iso(now)})")
        if not MIN_WINDOW <= end - start <= MAX_WINDOW:
            raise errors.validation("The incremental export period must be at least 15 minutes and at most "
                                    "24 hours long")
        return {"ExportFromTime": start, "ExportToTime": end,
                "ExportViewType": spec.get("ExportViewType") or "NEW_AND_OLD_IMAGES"}

    def _same_request(self, description: Out) -> Out | None:
        """An earlier export with the same ClientToken: the same request again answers it (idempotency),
        another request with that token conflicts."""
        token = description.get("ClientToken")
        if not token:
            return None
        fingerprint = {k: v for k, v in description.items() if k not in ("StartTime", "ExportStatus", "ExportTime")}
        for earlier in self.transfers.descriptions.values():
            if earlier.get("ClientToken") == token and earlier["_kind"] == "export":
                same = all(earlier.get(k) == v for k, v in fingerprint.items())
                if not same:
                    raise ServiceError("ExportConflictException",
                                       "There was a conflict when writing to the specified S3 bucket.")
                return earlier
        return None

    async def DescribeExport(self, ctx: RequestContext, params: DescribeExportInputTypeDef) -> Out:
        found = self.transfers.descriptions.get(params["ExportArn"])
        if found is None or found["_kind"] != "export":
            raise ServiceError("ExportNotFoundException", f"Export not found: {params['ExportArn']}")
        return {"ExportDescription": public(found)}

    async def ListExports(self, ctx: RequestContext, params: ListExportsInputTypeDef) -> Out:
        page, token = self.transfers.listed("export", ctx.region, params.get("TableArn"), params.get("MaxResults"),
                                            params.get("NextToken"))
        out: Out = {"ExportSummaries": [{"ExportArn": d["ExportArn"], "ExportStatus": d["ExportStatus"],
                                         "ExportType": d["ExportType"]} for d in page]}
        if token is not None:
            out["NextToken"] = token
        return out

    # -- the job ---------------------------------------------------------------------------------------
    @staticmethod
    def _folder(description: Out, export_id: str) -> str:
        prefix = str(description.get("S3Prefix") or "").rstrip("/")
        return (f"{prefix}/" if prefix else "") + f"AWSDynamoDB/{export_id}/"

    async def _export(self, description: Out) -> None:
        export_id = str(description["ExportArn"]).rsplit("/", 1)[1]
        folder = self._folder(description, export_id)
        table = next((t for t in self.backend.catalog.tables.values() if t.id == description["_table_id"]), None)
        if table is None:
            await self.transfers.fail(description, "TableNotFound", "The table was deleted during the export")
            return
        lines, size = await self._lines(table, description)
        try:
            await self._put(description, folder + "_started", b"")
            data_folder = folder if description["ExportType"] == "FULL_EXPORT" else folder.rsplit(
                f"{export_id}/", 1)[0]
            manifest = []
            extension = "ion" if description["ExportFormat"] == "ION" else "json"
            for start in range(0, max(len(lines), 1), FILE_ITEMS):
                chunk = lines[start:start + FILE_ITEMS]
                body = gzip.compress("".join(line + "\n" for line in chunk).encode())
                key = f"{data_folder}data/{_file_name(description['ExportArn'], start // FILE_ITEMS)}.{extension}.gz"
                etag = await self._put(description, key, body)
                manifest.append({"itemCount": len(chunk), "md5Checksum": _md5(body).decode(),
                                 "etag": etag, "dataFileS3Key": key})
            files = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in manifest).encode()
            await self._put(description, folder + "manifest-files.json", files)
            await self._put(description, folder + "manifest-files.md5", _md5(files))
            end = self.backend.now()
            summary = json.dumps(self._summary(description, folder, end, len(lines), size),
                                 separators=(",", ":")).encode()
            await self._put(description, folder + "manifest-summary.json", summary)
            await self._put(description, folder + "manifest-summary.md5", _md5(summary))
        except ServiceError as error:
            await self.transfers.fail(description, *s3_failure(error))
            return
        if self.transfers.current(description):
            await self.transfers.save({**description, "ExportStatus": "COMPLETED", "EndTime": end,
                                       "ItemCount": len(lines), "BilledSizeBytes": size})

    async def _put(self, description: Out, key: str, body: bytes) -> str:
        """Put one object through S3's API, encrypted as S3SseAlgorithm says, in a bucket S3BucketOwner must
        own (S3's AccessDenied otherwise); its ETag (unquoted). An export a reset wiped writes nothing more.
        """
        if not self.transfers.current(description):
            raise ServiceError("InternalServerError", "The export was wiped by a reset", 500)
        params: Out = {"Bucket": description["S3Bucket"], "Key": key, "Body": body,
                       "ExpectedBucketOwner": description["S3BucketOwner"]}
        if description["S3SseAlgorithm"] == "KMS":
            params["ServerSideEncryption"] = "aws:kms"
            if description.get("S3SseKmsKeyId"):
                params["SSEKMSKeyId"] = description["S3SseKmsKeyId"]
        else:
            params["ServerSideEncryption"] = "AES256"
        answer = await self.transfers.api.call("s3", "PutObject", params, str(description["_region"]))
        return str(answer.get("ETag") or "").strip('"')

    async def _lines(self, table: Table, description: Out) -> tuple[list[str], int]:
        """The data files' lines and the bytes of the items they hold."""
        ion_format = description["ExportFormat"] == "ION"
        store = self.backend.store
        if description["ExportType"] == "FULL_EXPORT":
            items = [load_item(text) for _, _, text in await pitr.items_at(store, table,
                                                                            float(description["ExportTime"]))]
            size = sum(item_size(i) for i in items)
            return [ion.write_line({"Item": i}) if ion_format else _json({"Item": i}) for i in items], size
        window = description["IncrementalExportSpecification"]
        new_only = window["ExportViewType"] == "NEW_IMAGE"
        lines, size = [], 0
        for change in store.history.changes_between(table.id, window["ExportFromTime"], window["ExportToTime"]):
            old = load_item(change.old) if change.old is not None else None
            new = load_item(change.new) if change.new is not None else None
            if old is None and new is None:
                continue  # made and deleted within the window: nothing to say
            either = new if new is not None else old
            assert either is not None
            record: dict[str, Item] = {"Keys": {n: either[n] for n in table.key_names()}}
            if new is not None:
                record["NewImage"] = new
            if old is not None and not new_only:
                record["OldImage"] = old
            size += item_size(new or old or {})
            micros = {"WriteTimestampMicros": {"N": str(round(change.at * 1_000_000))}}
            lines.append(ion.write_line({"Metadata": micros, **record}) if ion_format else
                         _json({"Metadata": micros, **record}))
        return lines, size

    def _summary(self, description: Out, folder: str, end: float, count: int, size: int) -> Out:
        summary: Out = {
            "version": "2020-06-30" if description["ExportType"] == "FULL_EXPORT" else "2023-08-01",
            "exportArn": description["ExportArn"], "startTime": iso(description["StartTime"]), "endTime": iso(end),
            "tableArn": description["TableArn"], "tableId": description["TableId"],
        }
        if description["ExportType"] == "FULL_EXPORT":
            summary["exportTime"] = iso(description["ExportTime"])
        else:
            window = description["IncrementalExportSpecification"]
            summary["exportFromTime"] = iso(window["ExportFromTime"])
            summary["exportToTime"] = iso(window["ExportToTime"])
        summary.update({
            "s3Bucket": description["S3Bucket"], "s3Prefix": description.get("S3Prefix"),
            "s3SseAlgorithm": description["S3SseAlgorithm"], "s3SseKmsKeyId": description.get("S3SseKmsKeyId"),
            "manifestFilesS3Key": folder + "manifest-files.json", "billedSizeBytes": size, "itemCount": count,
            "outputFormat": description["ExportFormat"]})
        if description["ExportType"] != "FULL_EXPORT":
            summary["outputView"] = description["IncrementalExportSpecification"]["ExportViewType"]
            summary["exportType"] = "INCREMENTAL_EXPORT"
        return summary


def _md5(data: bytes) -> bytes:
    """An MD5 as the manifests and their checksum files write it: base64."""
    return base64.b64encode(hashlib.md5(data).digest())


def _json(record: dict[str, Item]) -> str:
    return json.dumps({k: wire_item(v) for k, v in record.items()}, separators=(",", ":"), ensure_ascii=False)
