"""Launch templates and their versions.

https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-launch-templates.html
- A template has numbered versions from 1; `$Latest` is the highest, `$Default` the one ModifyLaunchTemplate
  chose (version 1 at first). A version's data is kept as given (what DescribeLaunchTemplateVersions answers).
- The default version cannot be deleted on its own (delete the template); names are unique per region.
- A user data in a template must already be base64 (the console and the CLI do not encode it for you there).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from conveyor.clock import Clock
from conveyor.ports import LaunchTemplateRef
from conveyor.services.ec2 import errors
from conveyor.services.ec2.store import Ec2Store

NAME = re.compile(r"[a-zA-Z0-9().\-/_]{3,128}")
TEMPLATE_ID = re.compile(r"lt-[0-9a-f]{17}")
MAX_VERSIONS_DELETED = 200


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


@dataclass
class Template:
    template_id: str
    region: str
    name: str
    doc: dict[str, Any]  # CreateTime, CreatedBy, DefaultVersionNumber, LatestVersionNumber, Tags
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> description, data, time

    def describe(self) -> dict[str, Any]:
        return {"LaunchTemplateId": self.template_id, "LaunchTemplateName": self.name, **self.doc}

    def version(self, number: int) -> dict[str, Any]:
        v = self.versions[number]
        out = {"LaunchTemplateId": self.template_id, "LaunchTemplateName": self.name, "VersionNumber": number,
               "CreateTime": v["CreateTime"], "CreatedBy": self.doc["CreatedBy"],
               "DefaultVersion": number == self.doc["DefaultVersionNumber"], "LaunchTemplateData": v["Data"]}
        if v.get("VersionDescription") is not None:
            out["VersionDescription"] = v["VersionDescription"]
        return out

    def number(self, version: str | None) -> int:
        """The version number `version` names ($Latest, $Default or a number); VersionNotFound otherwise."""
        if version in (None, "", "$Default"):
            return int(self.doc["DefaultVersionNumber"])
        if version == "$Latest":
            return max(self.versions)
        assert version is not None
        if not version.isdigit():
            raise errors.bad_version(version)
        if int(version) not in self.versions:
            raise errors.version_not_found(self.template_id, version)
        return int(version)


def check_data(data: dict[str, Any]) -> None:
    user_data = data.get("UserData")
    if user_data is not None:
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid_parameter("Invalid launch template: The UserData parameter must be base64-encoded.")


class Templates:
    def __init__(self, store: Ec2Store, clock: Clock, account: str) -> None:
        self.store = store
        self.clock = clock
        self.account = account
        self.by_id: dict[str, Template] = {}

    def load(self) -> None:
        self.by_id = {tid: Template(tid, region, doc.pop("Name"), doc) for tid, region, doc in self.store.templates()}
        for tid, number, doc in self.store.versions():
            if tid in self.by_id:
                self.by_id[tid].versions[number] = doc

    def clear(self) -> None:
        self.by_id.clear()

    def by_name(self, region: str, name: str) -> Template | None:
        return next((t for t in self.by_id.values() if t.region == region and t.name == name), None)

    def find(self, region: str, template_id: str | None, name: str | None) -> Template:
        """The template named by id or name (exactly one of them)."""
        if template_id and name:
            raise errors.invalid_combination("Both a launch template ID and a launch template name were specified. "
                                             "Specify only one.")
        if template_id:
            if not TEMPLATE_ID.fullmatch(template_id):
                raise errors.template_id_malformed(template_id)
            found = self.by_id.get(template_id)
            if found is None or found.region != region:
                raise errors.template_not_found_by_id(template_id)
            return found
        if name:
            by_name = self.by_name(region, name)
            if by_name is None:
                raise errors.template_not_found_by_name(name)
            return by_name
        raise errors.missing("The request must contain the parameter LaunchTemplateName or LaunchTemplateId")

    def resolve(self, region: str, ref: LaunchTemplateRef) -> tuple[Template, int]:
        template = self.find(region, ref.template_id, ref.name)
        return template, template.number(ref.version)

    async def _save(self, template: Template, version: int | None = None) -> None:
        doc = {**template.doc, "Name": template.name}
        await self.store.put_template(template.template_id, template.region, template.name, doc,
                                      (version, template.versions[version]) if version is not None else None)

    async def create(self, region: str, caller_arn: str, name: str, data: dict[str, Any], description: str | None,
                     tags: list[dict[str, str]]) -> Template:
        if not NAME.fullmatch(name):
            raise errors.invalid_parameter("Launch template name must be between 3 and 128 characters, and may "
                                           "contain letters, numbers, and the following characters: - ( ) . / _.'")
        if self.by_name(region, name) is not None:
            raise errors.template_name_taken(name)
        check_data(data)
        now = self.clock.now()
        template = Template(new_id("lt"), region, name, {"CreateTime": now, "CreatedBy": caller_arn,
                                                         "DefaultVersionNumber": 1, "LatestVersionNumber": 1,
                                                         "Tags": tags})
        template.versions[1] = {"CreateTime": now, "Data": data, "VersionDescription": description}
        await self._save(template, 1)
        self.by_id[template.template_id] = template
        return template

    async def create_version(self, region: str, template_id: str | None, name: str | None, data: dict[str, Any],
                             source: str | None, description: str | None) -> tuple[Template, int]:
        template = self.find(region, template_id, name)
        check_data(data)
        if source is not None:  # the new version is the source's data with the given members replaced
            base = template.versions[template.number(source)]["Data"]
            data = {**base, **data}
        number = int(template.doc["LatestVersionNumber"]) + 1
        template.versions[number] = {"CreateTime": self.clock.now(), "Data": data, "VersionDescription": description}
        template.doc["LatestVersionNumber"] = number
        try:
            await self._save(template, number)
        except BaseException:
            del template.versions[number]
            template.doc["LatestVersionNumber"] = number - 1
            raise
        return template, number

    async def set_default(self, region: str, template_id: str | None, name: str | None, version: str) -> Template:
        template = self.find(region, template_id, name)
        number = template.number(version)
        doc = {**template.doc, "DefaultVersionNumber": number}
        await self.store.put_template(template.template_id, region, template.name, {**doc, "Name": template.name})
        template.doc = doc
        return template

    async def delete(self, region: str, template_id: str | None, name: str | None) -> Template:
        template = self.find(region, template_id, name)
        await self.store.delete_template(template.template_id)
        del self.by_id[template.template_id]
        return template

    async def delete_versions(self, region: str, template_id: str | None, name: str | None,
                              versions: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """DeleteLaunchTemplateVersions: (deleted, not deleted with why)."""
        template = self.find(region, template_id, name)
        if len(versions) > MAX_VERSIONS_DELETED:
            raise errors.invalid_parameter(f"You can delete up to {MAX_VERSIONS_DELETED} launch template versions "
                                           "in one request.")
        ok: list[int] = []
        refused: list[dict[str, Any]] = []
        base = {"LaunchTemplateId": template.template_id, "LaunchTemplateName": template.name}
        for version in versions:
            if not version.isdigit() or int(version) not in template.versions:
                refused.append({**base, "VersionNumber": int(version) if version.isdigit() else 0, "ResponseError": {
                    "Code": "launchTemplateVersionDoesNotExist",
                    "Message": "The specified launch template version does not exist."}})
            elif int(version) == template.doc["DefaultVersionNumber"]:
                refused.append({**base, "VersionNumber": int(version), "ResponseError": {
                    "Code": "launchTemplateVersionIsDefault",
                    "Message": "You cannot delete the default version of a launch template. Use "
                               "DeleteLaunchTemplate to delete the template."}})
            else:
                ok.append(int(version))
        if ok:
            await self.store.delete_versions(template.template_id, ok)
            for number in ok:
                del template.versions[number]
        return [{**base, "VersionNumber": n} for n in ok], refused
