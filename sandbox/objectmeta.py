"""ObjectMeta validation every kind shares: label keys and values, annotation keys and total size.

Why: a real API server refuses a label value over 63 bytes, a key that is not a qualified name, and
annotations over 256 KiB in total (kopf's `last-handled-configuration` copying a large spec hits
exactly that), with 422 `Invalid` causes whose wording clients and tests match. The messages are
those of k8s.io/apimachinery's validation (`content.IsLabelKey`, `IsLabelValue`, `field.TooLong`),
built the same way (`RegexError` examples and all), so a test that passes here sees what a cluster says.
"""

from __future__ import annotations

import json
import re
from typing import Any

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
LABEL_VALUE_MAX_LENGTH = 63
LABEL_KEY_NAME_MAX_LENGTH = 63
SUBDOMAIN_MAX_LENGTH = 253

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character")
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                  "start and end with an alphanumeric character")
_SUBDOMAIN_FMT = _DNS_LABEL_FMT + "(\\." + _DNS_LABEL_FMT + ")*"
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                  "'.', and must start and end with an alphanumeric character")
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)  # used with fullmatch: Go's `$` never matches before a "\n"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)


def regex_error(message: str, regex: str, *examples: str) -> str:
    """apimachinery's `RegexError`: the message, its examples, and the regex (spacing included)."""
    if not examples:
        return f"{message} (regex used for validation is '{regex}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{regex}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def dns_label_help() -> str:
    return regex_error(_DNS_LABEL_MSG, _DNS_LABEL_FMT, "my-name", "123-abc")


def subdomain_help() -> str:
    return regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com")


def subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(SUBDOMAIN_MAX_LENGTH))
    if not _SUBDOMAIN_RE.fullmatch(value):
        errs.append(subdomain_help())
    return errs


def label_key_errors(key: str) -> list[str]:
    """`content.IsLabelKey` (also what annotation keys, lower-cased, must be)."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return [f"a valid label key {regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}"
                " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {msg}" for msg in subdomain_errors(prefix)]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > LABEL_KEY_NAME_MAX_LENGTH:
        errs.append(f"name part {max_len_error(LABEL_KEY_NAME_MAX_LENGTH)}")
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append(f"name part {regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}")
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _invalid(field: str, value: str, message: str) -> dict[str, str]:
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {json.dumps(value, ensure_ascii=False)}: {message}"}


def metadata_causes(meta: Any, path: str = "metadata") -> list[dict[str, str]]:
    """The 422 causes for the labels and annotations of one ObjectMeta (empty when valid)."""
    if not isinstance(meta, dict):
        return []
    causes: list[dict[str, str]] = []
    labels = meta.get("labels") or {}
    if isinstance(labels, dict):
        for key in sorted(labels):
            causes += [_invalid(f"{path}.labels", key, msg) for msg in label_key_errors(key)]
            value = labels[key]
            if isinstance(value, str):
                causes += [_invalid(f"{path}.labels", value, msg) for msg in label_value_errors(value)]
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key in sorted(annotations):
            causes += [_invalid(f"{path}.annotations", key, msg) for msg in label_key_errors(key.lower())]
        total = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
        if total > TOTAL_ANNOTATION_SIZE_LIMIT:
            causes.append({"reason": "FieldValueTooLong", "field": f"{path}.annotations",
                           "message": f"Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"})
    return causes
