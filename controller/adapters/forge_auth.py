"""Forge credentials: read from a Secret, handed to clients and git as headers, never put in a URL.

Why headers: a token in a remote URL ends up in `.git/config`, in `git remote -v`, in error
messages and in logs. PyGithub and python-gitlab send it as a header; git gets it through
`http.extraHeader` passed in the environment (GIT_CONFIG_COUNT/KEY/VALUE), which is neither written
to disk nor visible in the process arguments. `redact` masks a token in any text that may leave
the process (an exception's message before it reaches the thread).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from controller.settings import ForgeSettings


@dataclass(frozen=True)
class ForgeCredentials:
    token: str = field(default="", repr=False)
    app_id: str = ""
    app_key: str = field(default="", repr=False)
    installation_id: str = ""

    def redact(self, text: str) -> str:
        for secret in (self.token, self.app_key):
            if secret:
                text = text.replace(secret, "***")
        return text


def load_credentials(settings: ForgeSettings) -> ForgeCredentials:
    """The token from the environment (a secretKeyRef) or a mounted Secret file; the App key from its file."""
    token = settings.token or (Path(settings.token_file).read_text().strip() if settings.token_file else "")
    key = Path(settings.github_app_key_file).read_text() if settings.github_app_key_file else ""
    return ForgeCredentials(token=token, app_id=settings.github_app_id, app_key=key,
                            installation_id=settings.github_installation_id)


def git_auth_env(user: str, token: str) -> dict[str, str]:
    """Environment that makes git send HTTP basic auth as a header (GitHub: x-access-token; GitLab: oauth2)."""
    if not token:
        return {}
    basic = base64.b64encode(f"{user}:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


def project_of(url: str) -> str:
    """`owner/name` (or `group/sub/name`) from an https or ssh remote URL."""
    path = url.split("://", 1)[-1]
    path = path.split(":", 1)[1] if "@" in path.split("/", 1)[0] and ":" in path else path.split("/", 1)[-1]
    return path.strip("/").removesuffix(".git")
