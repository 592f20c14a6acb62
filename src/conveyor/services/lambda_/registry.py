"""The functions of the account, by name, mirrored in the store: every change is durable before the API
answers, and memory is put back as it was when the write fails.

Every operation and every part of the service finds functions here: the registry knows the account and
the server's region, so it turns a FunctionName (a name, a partial ARN or an ARN) into the function.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

from conveyor.services.lambda_.code import CodeStore
from conveyor.services.lambda_.functions import (
    Function,
    arn_region,
    invalid,
    not_found,
    parse_name,
    timestamp,
)
from conveyor.services.lambda_.store import LambdaStore
from conveyor.storage.disk import DiskGuard


class Registry:
    def __init__(self, store: LambdaStore, code_root: Path, account: str, region: str,
                 disk: DiskGuard | None = None) -> None:
        self.store = store
        self.account = account
        self.region = region  # the server's: where a function named without a region is looked for
        self.code = CodeStore(code_root, disk)
        self.functions: dict[str, Function] = {}
        self._committed: dict[str, str] = {}  # name -> the function's document as last committed

    def load(self) -> None:
        for doc in self.store.function_docs():
            fn = Function.load(doc)
            self.functions[fn.name] = fn
            self._committed[fn.name] = doc

    async def reset(self) -> None:
        self.functions.clear()
        self._committed.clear()
        await self.store.wipe()
        self.code.wipe()

    def arn(self, name: str, region: str | None = None) -> str:
        return f"arn:aws:lambda:{region or self.region}:{self.account}:function:{name}"

    def get(self, ref: str, region: str | None = None, qualifier: str | None = None) -> tuple[Function, str | None]:
        """The function a name, partial ARN or ARN names, and the qualifier it carries (or `qualifier`, an
        operation's own Qualifier member). A function lives in one region: a name looks in `region` (the
        request's; None: any), an ARN in the region it names.

        Lambda names what it did not find by its full ARN, the qualifier included, whichever form the
        caller used ("Function not found: arn:aws:lambda:us-east-1:123456789012:function:fn:1"); a
        qualifier in the name that differs from the Qualifier member is refused
        (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html: "If you specify a function
        name with a qualifier, ... the Qualifier parameter must match")."""
        name, derived = parse_name(ref, self.account)
        if qualifier and derived and qualifier != derived:
            raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
        qualifier = qualifier or derived
        wanted = arn_region(ref) or region
        fn = self.functions.get(name)
        if fn is None or (wanted is not None and fn.region != wanted):
            suffix = f":{qualifier}" if qualifier else ""
            raise not_found(f"Function not found: {self.arn(name, wanted)}{suffix}")
        return fn, qualifier

    async def save(self, fn: Function) -> None:
        """Store a function the caller has just changed in memory. If the write fails (a full disk), the
        function is put back exactly as it was last committed, or forgotten if it never was."""
        doc = fn.doc()
        self.functions[fn.name] = fn
        try:
            await self.store.put_function(fn.name, doc)
        except Exception:
            self._restore(fn)
            raise
        self._committed[fn.name] = doc

    def _restore(self, fn: Function) -> None:
        committed = self._committed.get(fn.name)
        if committed is None:
            if self.functions.get(fn.name) is fn:
                del self.functions[fn.name]
            return
        before = Function.load(committed)
        for f in fields(Function):
            setattr(fn, f.name, getattr(before, f.name))

    async def delete(self, fn: Function) -> None:
        await self.store.delete_function(fn.name)
        if self.functions.get(fn.name) is fn:
            del self.functions[fn.name]
        self._committed.pop(fn.name, None)

    @staticmethod
    def new_revision(config: dict[str, Any], now: float) -> None:
        config["RevisionId"] = str(uuid.uuid4())
        config["LastModified"] = timestamp(now)
