"""Domain names as Route 53 keeps them: lower case, fully qualified (a trailing dot), with characters other
than a-z, 0-9, '-' and '_' written as three-digit octal escapes ("\\052" for '*') in what it answers.

https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html
"""

from __future__ import annotations

import re

from conveyor.services.route53 import errors

_OCTAL = re.compile(r"\\([0-7]{3})")
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def normalize(name: str) -> str:
    """The name a request gives, as Route 53 stores it: escapes decoded, lower case, a trailing dot."""
    decoded = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), name.strip()).lower()
    return decoded if decoded.endswith(".") else decoded + "."


def display(name: str) -> str:
    """The stored name as Route 53 answers it: octal escapes for anything but a-z, 0-9, '-', '_', '.'."""
    return "".join(ch if ch in _PLAIN else f"\\{ord(ch):03o}" for ch in name)


def check_domain(name: str) -> None:
    """Route 53's limits on a domain name: at most 255 bytes, labels of 1 to 63 bytes.
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html"""
    labels = name[:-1].split(".") if name != "." else []
    if len(name) > 255 or any(not 0 < len(label) <= 63 for label in labels):
        raise errors.fault("InvalidDomainName", f"{name} is not a valid domain name.")


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def reversed_labels(name: str) -> tuple[str, ...]:
    """The order ListResourceRecordSets lists in: labels from the right ("com", "example", "www").
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html"""
    return tuple(reversed(name.rstrip(".").split(".")))
