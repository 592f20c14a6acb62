"""Which codec speaks which wire protocol: a service gets one codec per protocol its model names."""

from __future__ import annotations

from botocore.model import ServiceModel

from conveyor.protocol.base import Codec
from conveyor.protocol.ec2 import Ec2Codec
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.protocol.query import QueryCodec
from conveyor.protocol.rest_json import RestJsonCodec
from conveyor.protocol.rest_xml import RestXmlCodec
from conveyor.protocol.rpc_v2_cbor import RpcV2CborCodec

CODEC_CLASSES: dict[str, type[Codec]] = {
    "query": QueryCodec,
    "ec2": Ec2Codec,
    "json": JsonCodec,
    "rest-json": RestJsonCodec,
    "rest-xml": RestXmlCodec,
    "smithy-rpc-v2-cbor": RpcV2CborCodec,
}


def model_protocols(model: ServiceModel) -> list[str]:
    """The model's wire protocols, preferred first (newer models list several, e.g. ["json", "query"])."""
    protocols: list[str] = model.metadata.get("protocols") or [model.protocol]
    return protocols


def codecs_for(model: ServiceModel) -> dict[str, Codec]:
    """One codec per protocol of the model that Conveyor speaks, preferred first."""
    return {name: CODEC_CLASSES[name](model) for name in model_protocols(model) if name in CODEC_CLASSES}
