"""Change ids: every write that changes what the DNS servers answer returns a ChangeInfo, PENDING in the
response itself, then INSYNC once it is served. Conveyor's one DNS server serves a change as soon as it is
committed, so GetChange answers INSYNC for every change it knows.
https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.route53 import errors
from conveyor.services.route53.catalog import Catalog, new_id
from conveyor.services.route53.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import GetChangeRequestTypeDef


def record_change(batch: Batch, now: float, comment: str | None = None) -> dict[str, Any]:
    """Add a change to `batch`; its ChangeInfo as the write answers it (PENDING)."""
    change_id = new_id("C")
    doc: dict[str, Any] = {"Id": change_id, "SubmittedAt": now}
    if comment:
        doc["Comment"] = comment
    batch.write("change", change_id, doc)
    return change_info(doc, "PENDING")


def change_info(doc: dict[str, Any], status: str) -> dict[str, Any]:
    info: dict[str, Any] = {"Id": f"/change/{doc['Id']}", "Status": status, "SubmittedAt": doc["SubmittedAt"]}
    if doc.get("Comment"):
        info["Comment"] = doc["Comment"]
    return info


class ChangeOperations:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def GetChange(self, ctx: RequestContext, params: GetChangeRequestTypeDef) -> dict[str, Any]:
        change_id = str(params["Id"]).rsplit("/", 1)[-1]
        doc = self.catalog.changes.get(change_id)
        if doc is None:
            raise errors.no_such_change(change_id)
        return {"ChangeInfo": change_info(doc, "INSYNC")}
