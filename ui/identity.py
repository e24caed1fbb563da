"""Who is using the UI: the identity the auth proxy vouches for, never one typed into a form.

Why: the UI acts on behalf of its logged-in user through impersonation (DESIGN principle 2), so
the name it impersonates must come from something the person cannot forge. In a cluster that is a
header set by the auth proxy in front of the UI (oauth2-proxy with Entra ID, Cognito or any OIDC
provider); the chart's NetworkPolicy lets only the proxy reach the UI. Only in sandbox mode may a
person pick a local user. Without either, the UI refuses instead of guessing.

Pure: headers in, `Identity` or a refusal out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.api.types import Identity
from ui.config import UiConfig


@dataclass(frozen=True)
class Refusal:
    """Why the UI will not act for this request."""

    message: str


def _header(headers: Mapping[str, str], name: str) -> str:
    """Header lookup ignoring case (st.context.headers is case-insensitive; plain dicts in tests are not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value).strip()
    return ""


def split_groups(value: str) -> list[str]:
    """oauth2-proxy joins groups with commas; blanks and duplicates are dropped, order kept."""
    seen: list[str] = []
    for item in value.split(","):
        group = item.strip()
        if group and group not in seen:
            seen.append(group)
    return seen


def from_headers(headers: Mapping[str, str], config: UiConfig) -> Identity | Refusal:
    """The identity in the trusted headers, or a refusal that says which header is missing."""
    user = _header(headers, config.user_header)
    if not user:
        return Refusal(
            f"No signed-in user: the request has no `{config.user_header}` header. The chat UI must be "
            "reached through the auth proxy (oauth2-proxy), which sets that header after you sign in. "
            "Operators: check the proxy's --set-xauthrequest / --pass-user-headers flags and "
            "AIOP_UI_USER_HEADER.")
    return Identity(user=user, groups=split_groups(_header(headers, config.groups_header)))


def resolve(headers: Mapping[str, str], config: UiConfig, picked_user: str | None,
            picked_groups: str = "") -> Identity | Refusal:
    """The header wins; the sandbox picker is used only in sandbox mode and only without a header."""
    found = from_headers(headers, config)
    if isinstance(found, Identity) or not config.sandbox:
        return found
    user = (picked_user or (config.sandbox_users[0] if config.sandbox_users else "")).strip()
    if not user:
        return Refusal("Sandbox mode: pick a user in the sidebar.")
    return Identity(user=user, groups=split_groups(picked_groups))
