"""The resource-policy evaluator on its own: principals, actions, resources, conditions, Deny over Allow."""

from __future__ import annotations

from conveyor.resource_policy import Request, allows, decide, parse

QUEUE = "arn:aws:sqs:us-east-2:000000000000:uploads"
S3_SENDS = Request(action="sqs:SendMessage", resource=QUEUE, service="s3.amazonaws.com",
                   context={"aws:SourceArn": "arn:aws:s3:::photos", "aws:SourceAccount": "000000000000"})


def policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(**fields: object) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": QUEUE, **fields}


def test_the_labs_queue_policy_lets_s3_send_for_its_bucket_only() -> None:
    lab = policy(allow(Condition={"StringEquals": {"aws:SourceAccount": "000000000000"},
                                  "ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}))
    assert allows(lab, S3_SENDS)
    other_bucket = Request(**{**S3_SENDS.__dict__, "context": {**S3_SENDS.context, "aws:SourceArn": "arn:aws:s3:::x"}})
    assert not allows(lab, other_bucket)
    other_account = Request(**{**S3_SENDS.__dict__,
                               "context": {**S3_SENDS.context, "aws:SourceAccount": "111111111111"}})
    assert not allows(lab, other_account)


def test_principals() -> None:
    assert allows(policy(allow(Principal="*")), S3_SENDS)
    assert allows(policy(allow(Principal={"AWS": "*"})), S3_SENDS)
    assert allows(policy(allow(Principal={"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]})), S3_SENDS)
    assert not allows(policy(allow(Principal={"Service": "sns.amazonaws.com"})), S3_SENDS)
    assert not allows(policy(allow(Principal={"AWS": "arn:aws:iam::000000000000:root"})), S3_SENDS)
    account = Request(action="sqs:SendMessage", resource=QUEUE, principal="arn:aws:iam::000000000000:user/ana")
    assert allows(policy(allow(Principal={"AWS": "000000000000"})), account)
    assert allows(policy(allow(Principal={"AWS": "arn:aws:iam::000000000000:root"})), account)
    assert not allows(policy(allow(Principal={"AWS": "111111111111"})), account)
    anonymous = Request(action="sqs:SendMessage", resource=QUEUE)
    assert not allows(policy(allow(Principal={"AWS": "000000000000"})), anonymous)
    assert not allows(policy(allow(Principal={"Service": "s3.amazonaws.com"})), anonymous)
    assert allows(policy(allow(Principal="*")), anonymous)
    assert not allows(policy({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}), S3_SENDS)  # no principal


def test_actions_and_resources_with_wildcards() -> None:
    assert allows(policy(allow(Action="SQS:*")), S3_SENDS)
    assert allows(policy(allow(Action=["sqs:Get*", "sqs:Send?essage"])), S3_SENDS)
    assert allows(policy(allow(Action="*", Resource="arn:aws:sqs:*:*:up*")), S3_SENDS)
    assert not allows(policy(allow(Action="sqs:ReceiveMessage")), S3_SENDS)
    assert not allows(policy(allow(Resource="arn:aws:sqs:us-east-2:000000000000:other")), S3_SENDS)
    not_action = {k: v for k, v in allow().items() if k != "Action"} | {"NotAction": "sqs:DeleteQueue"}
    assert allows(policy(not_action), S3_SENDS)
    assert not allows(policy({**not_action, "NotAction": "sqs:Send*"}), S3_SENDS)
    assert not allows(policy(allow(Resource="[uploads]")), S3_SENDS)  # brackets are literal, not a class


def test_condition_operators() -> None:
    def holds(condition: dict[str, object]) -> bool:
        return allows(policy(allow(Condition=condition)), S3_SENDS)

    assert holds({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::photos"}})
    assert holds({"ArnLike": {"AWS:SOURCEARN": "arn:aws:s3:*:*:pho*"}})  # keys are case-insensitive
    assert not holds({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::pho"}})
    assert holds({"StringLike": {"aws:SourceArn": ["nope", "arn:aws:s3:::*"]}})
    assert holds({"StringEquals": {"aws:SourceAccount": ["1", "000000000000"]}})
    assert holds({"StringNotEquals": {"aws:SourceAccount": ["1", "2"]}})
    assert not holds({"StringNotEquals": {"aws:SourceAccount": ["1", "000000000000"]}})
    assert holds({"StringEqualsIgnoreCase": {"aws:SourceArn": "ARN:AWS:S3:::PHOTOS"}})
    # A key the request does not carry: false, unless ...IfExists or Null says otherwise.
    assert not holds({"StringEquals": {"AWS:SourceOwner": "000000000000"}})
    assert holds({"StringEqualsIfExists": {"AWS:SourceOwner": "000000000000"}})
    assert holds({"Null": {"AWS:SourceOwner": "true", "aws:SourceArn": "false"}})
    assert not holds({"Null": {"aws:SourceArn": "true"}})
    assert not holds({"StringFancy": {"aws:SourceAccount": "000000000000"}})  # not an operator: never holds
    assert not holds({"NumericGreaterThan": {"aws:SourceAccount": "1"}})
    assert not holds({"StringEquals": {"aws:SourceAccount": {"nested": "map"}}})


def test_deny_wins_and_nothing_is_implicit_deny() -> None:
    deny = {**allow(), "Effect": "Deny"}
    assert decide(policy(allow(), deny), S3_SENDS) == "Deny"
    assert decide(policy(), S3_SENDS) is None
    assert decide(None, S3_SENDS) is None


def test_hostile_documents_decide_nothing() -> None:
    for doc in (parse("not json"), parse(""), [], "text", {"Statement": "x"}, {"Statement": [1, None, "s"]},
                policy(allow(Action=7)), policy(allow(Principal=["*"])), policy(allow(Condition=[1]))):
        assert decide(doc, S3_SENDS) is None
    assert parse('{"Statement": []}') == {"Statement": []}
