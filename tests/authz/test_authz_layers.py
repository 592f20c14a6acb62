"""Layer operations under `--iam enforce` act on the layer's or the layer version's ARN, as the Service
Authorization Reference names their resources (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html)."""

from __future__ import annotations

import io
import zipfile

from tests.authz.conftest import ACCOUNT, Server, allow, refused


def package() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/lib.py", "X = 1\n")
    return buf.getvalue()


def test_layer_permissions_name_the_version(server: Server) -> None:
    root = server.root("lambda")
    for name in ("mine", "theirs"):
        root.publish_layer_version(LayerName=name, Content={"ZipFile": package()})
    layer = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer"
    user = server.user("reader", allow("lambda:GetLayerVersion", f"{layer}:mine:1"),
                       allow("lambda:PublishLayerVersion", f"{layer}:mine"))("lambda")
    assert user.get_layer_version(LayerName="mine", VersionNumber=1)["Version"] == 1
    assert user.get_layer_version_by_arn(Arn=f"{layer}:mine:1")["Version"] == 1
    assert refused(lambda: user.get_layer_version(LayerName="theirs", VersionNumber=1))[0] == "AccessDeniedException"
    assert user.publish_layer_version(LayerName="mine", Content={"ZipFile": package()})["Version"] == 2
    assert refused(lambda: user.publish_layer_version(LayerName="theirs", Content={"ZipFile": package()}))[2] == 403
