"""Entra ID group names through Microsoft Graph: the ids an auth proxy passes, as people know them.

Why: with AKS's Entra ID integration (or oauth2-proxy in front of the UI) a person's groups arrive as
object ids (`5b3f…`), and RBAC bindings use those ids; a plan that says "approved by a member of
5b3f…" helps nobody. `POST /v1.0/directoryObjects/getByIds` (types: group) resolves up to 1000 ids
per call; names are cached for a while, since they rarely change. Only GUID-shaped ids are looked up:
other group names (`system:authenticated`, `shop-devs`) are already names.

The token comes from the same credential chain as the ARM clients, for the Graph scope; the
identity needs the Graph application permission `GroupMember.Read.All` (or `Group.Read.All`).
"""

from __future__ import annotations

import re
import threading
import time

import httpx
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from controller.cloud.seam import CloudError, CloudTransient, Directory

GRAPH = "https://graph.microsoft.com"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
BATCH = 1000


def looks_like_object_id(value: str) -> bool:
    return bool(GUID.match(value or ""))


class GraphDirectory:
    """`Directory` over Microsoft Graph v1.0, with a time-bounded cache of names."""

    def __init__(self, credential: TokenCredential, base_url: str = GRAPH, ca_bundle: str = "",
                 cache_seconds: float = 600.0, timeout_s: float = 10.0) -> None:
        self.credential = credential
        self.base_url = (base_url or GRAPH).rstrip("/")
        self.cache_seconds = cache_seconds
        self._http = httpx.Client(timeout=timeout_s, verify=ca_bundle or True)
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def group_names(self, ids: list[str]) -> dict[str, str]:
        """Names of the GUID-shaped ids that are groups; ids Graph does not know are left out."""
        now = time.monotonic()
        wanted = [i for i in dict.fromkeys(ids) if looks_like_object_id(i)]
        with self._lock:
            known = {i: self._cache[i][1] for i in wanted if i in self._cache and self._cache[i][0] > now}
        missing = [i for i in wanted if i not in known]
        for start in range(0, len(missing), BATCH):
            batch = missing[start:start + BATCH]
            found = self._lookup(batch)
            with self._lock:
                for i in batch:
                    if i in found:
                        self._cache[i] = (now + self.cache_seconds, found[i])
            known.update(found)
        return {i: known[i] for i in wanted if i in known}

    def _lookup(self, ids: list[str]) -> dict[str, str]:
        try:
            token = self.credential.get_token(f"{self.base_url}/.default").token
        except ClientAuthenticationError as exc:
            raise CloudError(f"Microsoft Graph: could not authenticate: {str(exc).splitlines()[0]}") from exc
        try:
            response = self._http.post(f"{self.base_url}/v1.0/directoryObjects/getByIds",
                                       json={"ids": ids, "types": ["group"]},
                                       headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise CloudTransient(f"Microsoft Graph getByIds: cannot reach the endpoint ({type(exc).__name__})") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise CloudTransient(f"Microsoft Graph getByIds: HTTP {response.status_code}")
        if response.status_code != 200:
            error = (response.json().get("error") or {}) if response.headers.get("content-type", "").startswith(
                "application/json") else {}
            raise CloudError(f"Microsoft Graph getByIds: HTTP {response.status_code} {error.get('code', '')}: "
                             f"{error.get('message', '')}".strip())
        return {str(o["id"]): str(o.get("displayName") or o["id"]) for o in response.json().get("value") or []
                if str(o.get("@odata.type", "#microsoft.graph.group")).endswith("group")}


def describe_groups(groups: list[str], names: dict[str, str]) -> list[str]:
    """`Platform Admins (5b3f…)` for resolved ids, the group as given otherwise."""
    return [f"{names[g]} ({g})" if g in names else g for g in groups]


def groups_line(directory: Directory | None, groups: list[str]) -> str | None:
    """`Entra ID groups: Platform Admins (3b1f…), shop-devs` for a plan, or None when there is nothing to name.

    Names are display only: a failed lookup leaves the ids as they are and never stops a plan.
    """
    if directory is None or not any(looks_like_object_id(g) for g in groups):
        return None
    try:
        names = directory.group_names(groups)
    except CloudError:
        return None
    return "Entra ID groups: " + ", ".join(describe_groups(groups, names)) if names else None
