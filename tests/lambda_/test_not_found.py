"""Lambda's not-found and qualifier messages, word for word: what was not found is named by its full ARN,
the qualifier included, whichever form (name, partial ARN, ARN, Qualifier member) the caller used.
https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html (ResourceNotFoundException, 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
HANDLER = "def lambda_handler(event, context):\n    return event\n"


def error_of(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return {"Code": caught.value.response["Error"]["Code"], "Message": caught.value.response["Error"]["Message"],
            "Status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


@pytest.mark.parametrize("ref, named", [
    ("missing", f"{ARN}:missing"),
    ("missing:3", f"{ARN}:missing:3"),
    (f"{ACCOUNT}:function:missing", f"{ARN}:missing"),
    (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:missing", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:missing"),
])
def test_a_missing_function_is_named_by_its_arn(lam: Any, ref: str, named: str) -> None:
    for call in (lam.get_function, lam.get_function_configuration, lam.publish_version, lam.get_policy):
        assert error_of(call, FunctionName=ref) == {
            "Code": "ResourceNotFoundException", "Message": f"Function not found: {named}", "Status": 404}


def test_the_qualifier_member_is_part_of_the_name(lam: Any, make_function: Callable[..., Any]) -> None:
    assert error_of(lam.get_function, FunctionName="missing", Qualifier="7")["Message"] == \
        f"Function not found: {ARN}:missing:7"
    make_function("fn", HANDLER, Publish=True)
    assert error_of(lam.get_function, FunctionName="fn", Qualifier="2")["Message"] == \
        f"Function not found: {ARN}:fn:2"
    assert error_of(lam.invoke, FunctionName="fn:nosuchalias")["Message"] == \
        f"Function not found: {ARN}:fn:nosuchalias"
    assert error_of(lam.add_permission, FunctionName="fn", StatementId="s", Action="lambda:InvokeFunction",
                    Principal="s3.amazonaws.com", Qualifier="5")["Message"] == f"Function not found: {ARN}:fn:5"
    # The qualifier a name carries and the Qualifier member must agree.
    assert error_of(lam.get_function, FunctionName="fn:1", Qualifier="$LATEST") == {
        "Code": "InvalidParameterValueException", "Status": 400,
        "Message": "The derived qualifier from the function name does not match the specified qualifier."}
    assert lam.get_function(FunctionName="fn:1", Qualifier="1")["Configuration"]["Version"] == "1"
    assert lam.get_function_configuration(FunctionName=f"{ARN}:fn", Qualifier="1")["Version"] == "1"


def test_removing_from_a_resource_without_a_policy(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER)
    assert error_of(lam.remove_permission, FunctionName="fn", StatementId="1") == {
        "Code": "ResourceNotFoundException", "Status": 404,
        "Message": "No policy is associated with the given resource."}
    lam.add_permission(FunctionName="fn", StatementId="a", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    assert error_of(lam.remove_permission, FunctionName="fn", StatementId="1")["Message"] == \
        "Statement 1 is not found in resource policy."


def test_version_and_alias_rules(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    lam.create_alias(FunctionName="fn", Name="prod", FunctionVersion="1")
    assert error_of(lam.delete_function, FunctionName="fn", Qualifier="1") == {
        "Code": "ResourceConflictException", "Status": 409,
        "Message": "Unable to delete version because the following aliases reference it: [live, prod]"}
    assert error_of(lam.create_alias, FunctionName="fn", Name="live", FunctionVersion="1") == {
        "Code": "ResourceConflictException", "Status": 409, "Message": f"Alias already exists: {ARN}:fn:live"}
    assert error_of(lam.get_alias, FunctionName="fn", Name="gone") == {
        "Code": "ResourceNotFoundException", "Status": 404, "Message": f"Cannot find alias arn: {ARN}:fn:gone"}
    assert error_of(lam.update_alias, FunctionName="fn", Name="live", FunctionVersion="4")["Message"] == \
        f"Function not found: {ARN}:fn:4"
    assert error_of(lam.delete_function, FunctionName="fn", Qualifier="$LATEST") == {
        "Code": "InvalidParameterValueException", "Status": 400,
        "Message": "$LATEST version cannot be deleted without deleting the function."}
    lam.put_function_event_invoke_config(FunctionName="fn", Qualifier="live", MaximumRetryAttempts=1)
    lam.delete_alias(FunctionName="fn", Name="live")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")  # a new alias starts without settings
    assert error_of(lam.get_function_event_invoke_config, FunctionName="fn", Qualifier="live")["Code"] == \
        "ResourceNotFoundException"
