"""S3 Lifecycle rules: PutBucketLifecycleConfiguration's validation, and which objects, versions and
multipart uploads a rule acts on at a given time (the sweeper in lifecycle_sweep.py carries it out).

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
A rule's filter has at most one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan and And (an
empty filter is the whole bucket); the older rule-level Prefix stands instead of a filter, never with
one. Each action's day count is added to the object's creation time (or, for a noncurrent version, the
time it became noncurrent) and rounded up to the next midnight UTC: lifecycle acts at midnight
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import ObjectRow
from conveyor.wire import ServiceError

DAY = 86400.0
MAX_RULES = 1000
TRANSITION_CLASSES = ("GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE", "GLACIER_IR")
# Storage classes a transition may only reach after 30 days in the bucket.
_THIRTY_DAY_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
_FILTER_CHOICES = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And")
_ACTIONS = ("Expiration", "Transitions", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions",
            "AbortIncompleteMultipartUpload")
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"


def _invalid(message: str, name: str | None = None, value: Any = None) -> ServiceError:
    extra = {"ArgumentName": name, "ArgumentValue": str(value)} if name else {}
    return ServiceError("InvalidArgument", message, 400, extra=extra)


def _seconds(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return float(value)


def _midnight_date(value: Any) -> float:
    seconds = _seconds(value)
    if seconds % DAY:
        raise _invalid("'Date' must be at midnight GMT", "Date", value)
    return seconds


def _positive_days(value: Any, message: str, name: str) -> int:
    if not isinstance(value, int) or value <= 0:
        raise _invalid(message, name, value)
    return value


def _check_filter(rule: dict[str, Any]) -> None:
    has_filter, has_prefix = "Filter" in rule, "Prefix" in rule
    if has_filter == has_prefix:
        raise malformed_xml()  # exactly one of the two
    if has_filter:
        given = [name for name in _FILTER_CHOICES if name in (rule["Filter"] or {})]
        if len(given) > 1:
            raise malformed_xml()


def _check_expiration(expiration: dict[str, Any]) -> None:
    given = [name for name in ("Days", "Date", "ExpiredObjectDeleteMarker") if name in expiration]
    if len(given) != 1:
        raise malformed_xml()
    if "Days" in expiration:
        _positive_days(expiration["Days"], "'Days' for Expiration action must be a positive integer", "Days")
    if "Date" in expiration:
        _midnight_date(expiration["Date"])


def _check_transition(transition: dict[str, Any], noncurrent: bool) -> None:
    days_name = "NoncurrentDays" if noncurrent else "Days"
    storage_class = transition.get("StorageClass")
    if storage_class not in TRANSITION_CLASSES:
        raise malformed_xml()
    if noncurrent:
        if "NoncurrentDays" not in transition:
            raise malformed_xml()
    elif ("Days" in transition) == ("Date" in transition):
        raise malformed_xml()
    if "Date" in transition:
        _midnight_date(transition["Date"])
        return
    days = transition[days_name]
    if not isinstance(days, int) or days < 0:
        raise _invalid(f"'{days_name}' in Transition action must be nonnegative", days_name, days)
    # An object stays 30 days in the bucket before it may move to an infrequent-access class.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
    if not noncurrent and storage_class in _THIRTY_DAY_CLASSES and days < 30:
        raise _invalid(f"'Days' in Transition action must be greater than or equal to 30 for storageClass "
                       f"'{storage_class}'", days_name, days)


def validate(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules as they are stored and read back, or AWS's error for the first mistake."""
    if not rules or len(rules) > MAX_RULES:
        raise malformed_xml()
    ids: set[str] = set()
    for rule in rules:
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise malformed_xml()
        rule_id = rule.get("ID")
        if rule_id is not None:
            if len(rule_id) > 255:
                raise _invalid("ID length should not exceed allowed limit of 255", "ID", rule_id)
            if rule_id in ids:
                raise _invalid("Rule ID must be unique. Found same ID for more than one rule", "ID", rule_id)
            ids.add(rule_id)
        _check_filter(rule)
        if not any(rule.get(action) for action in _ACTIONS):
            raise ServiceError("InvalidRequest", "At least one action needs to be specified in a rule", 400)
        if "Expiration" in rule:
            _check_expiration(rule["Expiration"])
        for transition in rule.get("Transitions") or []:
            _check_transition(transition, noncurrent=False)
        for transition in rule.get("NoncurrentVersionTransitions") or []:
            _check_transition(transition, noncurrent=True)
        if "NoncurrentVersionExpiration" in rule:
            nve = rule["NoncurrentVersionExpiration"]
            if "NoncurrentDays" not in nve:
                raise malformed_xml()
            _positive_days(nve["NoncurrentDays"], "'NoncurrentDays' for NoncurrentVersionExpiration action must "
                           "be a positive integer", "NoncurrentDays")
        if "AbortIncompleteMultipartUpload" in rule:
            _positive_days(rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation"),
                           "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive "
                           "integer", "DaysAfterInitiation")
    return [_stored(rule) for rule in rules]


def _stored(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as JSON: its dates as epoch seconds (the codec writes them back as ISO 8601)."""
    out = {k: v for k, v in rule.items() if v is not None}
    if "Expiration" in out and "Date" in out["Expiration"]:
        out["Expiration"] = {**out["Expiration"], "Date": _seconds(out["Expiration"]["Date"])}
    if "Transitions" in out:
        out["Transitions"] = [{**t, "Date": _seconds(t["Date"])} if "Date" in t else dict(t)
                              for t in out["Transitions"]]
    return out


# -- what a rule does at a given time -----------------------------------------------------------------
def due(start: float, days: int) -> float:
    """When an action `days` after `start` runs: rounded up to the next midnight UTC."""
    return math.ceil((start + days * DAY) / DAY) * DAY


def next_midnight(now: float) -> float:
    return (math.floor(now / DAY) + 1) * DAY


def prefix_of(rule: dict[str, Any]) -> str:
    """The key prefix a rule is limited to ("" for none): where a sweep starts listing."""
    if "Prefix" in rule:
        return str(rule["Prefix"] or "")
    flt = rule.get("Filter") or {}
    return str(flt.get("Prefix") or (flt.get("And") or {}).get("Prefix") or "")


def matches(rule: dict[str, Any], obj: ObjectRow) -> bool:
    """Whether the rule's filter takes this version (a delete marker has no tags and no size)."""
    if not obj.key.startswith(prefix_of(rule)):
        return False
    flt = rule.get("Filter") or {}
    conditions = flt.get("And") or flt
    tags = {(t["Key"], t["Value"]) for t in obj.meta.get("Tags") or []}
    wanted = list(conditions.get("Tags") or []) + ([conditions["Tag"]] if conditions.get("Tag") else [])
    if any((t["Key"], t["Value"]) not in tags for t in wanted):
        return False
    if "ObjectSizeGreaterThan" in conditions and not obj.size > conditions["ObjectSizeGreaterThan"]:
        return False
    return not ("ObjectSizeLessThan" in conditions and not obj.size < conditions["ObjectSizeLessThan"])


def current_expired(rule: dict[str, Any], obj: ObjectRow, now: float) -> bool:
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration:
        return due(obj.last_modified, expiration["Days"]) <= now
    return "Date" in expiration and expiration["Date"] <= now


def transition_due(rule: dict[str, Any], since: float, now: float, noncurrent: bool) -> str | None:
    """The storage class the latest due transition moves a version to, if any."""
    chosen: tuple[float, str] | None = None
    for transition in rule.get("NoncurrentVersionTransitions" if noncurrent else "Transitions") or []:
        when = transition["Date"] if "Date" in transition else \
            due(since, transition["NoncurrentDays" if noncurrent else "Days"])
        if when <= now and (chosen is None or when > chosen[0]):
            chosen = (when, transition["StorageClass"])
    return chosen[1] if chosen else None
