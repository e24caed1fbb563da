"""Who is calling: bearer tokens mapped to users and groups, plus impersonation headers.

Why: the operator's core promise is "identity comes from the API server". Tests need several users
with distinct tokens (and kubeconfigs), and the UI acts for its user through `Impersonate-*`
headers, so the sandbox authenticates exactly the way a token-auth apiserver does.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from sandbox.store import write_atomic

ADMIN_USER = "system:admin"
MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated caller, as `request.userInfo` reports it."""

    name: str
    groups: tuple[str, ...]
    uid: str = ""


class Identities:
    """Token → user table; thread-safe (tests add users from their own thread), persisted when asked."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._path = state_dir / "users.json" if state_dir is not None else None
        self._tokens: dict[str, UserInfo] = {}
        self.admin_token = ""
        if self._path is not None and self._path.exists():
            data = json.loads(self._path.read_text(encoding="utf-8"))
            self.admin_token = data.get("admin_token", "")
            for token, user in data.get("tokens", {}).items():
                self._tokens[token] = UserInfo(user["name"], tuple(user.get("groups", ())))
        if not self.admin_token:
            self.admin_token = secrets.token_hex(24)
            self._save()

    def add_user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> str:
        """Create (or replace) a user's token and return it."""
        token = secrets.token_hex(24)
        with self._lock:
            self._tokens = {t: u for t, u in self._tokens.items() if u.name != name}
            self._tokens[token] = UserInfo(name, tuple(groups))
        self._save()
        return token

    def token_of(self, name: str) -> str | None:
        if name == ADMIN_USER:
            return self.admin_token
        with self._lock:
            for token, user in self._tokens.items():
                if user.name == name:
                    return token
        return None

    def authenticate(self, authorization_header: str | None) -> UserInfo | None:
        """The caller of an `Authorization: Bearer <token>` header, or None."""
        if not authorization_header:
            return None
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        if secrets.compare_digest(token, self.admin_token):
            return UserInfo(ADMIN_USER, (MASTERS_GROUP, AUTHENTICATED_GROUP))
        with self._lock:
            user = self._tokens.get(token)
        if user is None:
            return None
        groups = user.groups if AUTHENTICATED_GROUP in user.groups else (*user.groups, AUTHENTICATED_GROUP)
        return UserInfo(user.name, groups)

    def _save(self) -> None:
        if self._path is None:
            return
        with self._lock:
            data = {
                "admin_token": self.admin_token,
                "tokens": {t: {"name": u.name, "groups": list(u.groups)} for t, u in self._tokens.items()},
            }
        write_atomic(self._path, json.dumps(data, indent=1))
