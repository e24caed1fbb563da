"""ServiceAccounts as a real cluster has them: a `default` one in every namespace, and tokens on request.

Why: installers and operators authenticate as service accounts. `kubectl create token SA -n NS`
(TokenRequest, `POST .../serviceaccounts/<name>/token`) is how a person or a test gets such a token,
and every pod runs as the namespace's `default` service account unless told otherwise, so that
account exists in every namespace from the moment the namespace does (the service account controller
of kube-controller-manager creates it; here a controller hook does, right after the namespace write).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sandbox import errors
from sandbox.identity import UserInfo
from sandbox.operations import SYSTEM_USER, Operations
from sandbox.resources import ResourceType
from sandbox.store import Store
from sandbox.tokens import API_AUDIENCES, BoundObject, TokenClaims, TokenSigner, UidLookup, new_token_id
from sandbox.validation import cause

DEFAULT_SERVICE_ACCOUNT = "default"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32
TOKEN_REQUEST_KIND = "TokenRequest"
TOKEN_REQUEST_API_VERSION = "authentication.k8s.io/v1"
# kind -> (store group, plural) of the objects a token may be bound to.
BINDABLE: dict[str, tuple[str, str]] = {"Pod": ("", "pods"), "Secret": ("", "secrets")}


def uid_lookup(store: Store) -> UidLookup:
    """A `tokens.UidLookup` over the store: the uid of a ServiceAccount, Pod or Secret, or None."""
    plurals = {"ServiceAccount": ("", "serviceaccounts"), **BINDABLE}

    def lookup(kind: str, namespace: str, name: str) -> str | None:
        where = plurals.get(kind)
        if where is None:
            return None
        obj = store.get((where[0], where[1], namespace, name))
        return None if obj is None else str(obj["metadata"].get("uid", ""))

    return lookup


def _stamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_request_invalid(name: str, causes: list[dict[str, str]]) -> errors.ApiError:
    parts = [f"{c['field']}: {c['message']}" for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return errors.ApiError(
        422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: {summary}',
        {"name": name, "group": "authentication.k8s.io", "kind": TOKEN_REQUEST_KIND, "causes": causes},
    )


def request_token(
    store: Store, signer: TokenSigner, sa_rt: ResourceType, namespace: str, name: str, body: Any,
    dry_run: bool = False, now: float | None = None,
) -> dict[str, Any]:
    """Answer a TokenRequest for ServiceAccount `namespace/name` (the caller is already authorized)."""
    if body is not None and not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a TokenRequest object")
    request = dict(body or {})
    if request.get("kind") not in (None, TOKEN_REQUEST_KIND):
        raise errors.bad_request(f"expected TokenRequest, got {request.get('kind')}")
    sa = store.get(("", "serviceaccounts", namespace, name))
    if sa is None:
        raise errors.not_found(sa_rt, name)
    spec = dict(request.get("spec") or {})
    expiration = spec.get("expirationSeconds")
    expiration = DEFAULT_EXPIRATION_SECONDS if expiration in (None, 0) else expiration
    causes: list[dict[str, str]] = []
    if not isinstance(expiration, int):
        causes.append(cause("spec.expirationSeconds", "FieldValueInvalid",
                            f"Invalid value: {expiration!r}: must be an integer"))
    elif expiration < MIN_EXPIRATION_SECONDS:
        causes.append(cause("spec.expirationSeconds", "FieldValueInvalid",
                            f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"))
    elif expiration > MAX_EXPIRATION_SECONDS:
        causes.append(cause("spec.expirationSeconds", "FieldValueInvalid",
                            f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"))
    if causes:
        raise _token_request_invalid(name, causes)
    bound = _bound_object(store, namespace, spec.get("boundObjectRef"))
    audiences = tuple(spec.get("audiences") or API_AUDIENCES)
    issued = int(time.time() if now is None else now)
    claims = TokenClaims(
        namespace=namespace,
        service_account=name,
        service_account_uid=str(sa["metadata"].get("uid", "")),
        audiences=audiences,
        expires=issued + int(expiration),
        token_id=new_token_id(),
        bound=bound,
    )
    spec["audiences"] = list(audiences)
    spec["expirationSeconds"] = int(expiration)
    spec.setdefault("boundObjectRef", None)
    meta = dict(request.get("metadata") or {})
    meta.update({"name": name, "namespace": namespace, "creationTimestamp": _stamp(issued)})
    return {
        "kind": TOKEN_REQUEST_KIND,
        "apiVersion": TOKEN_REQUEST_API_VERSION,
        "metadata": meta,
        "spec": spec,
        "status": {
            "token": "" if dry_run else signer.issue(claims, issued),
            "expirationTimestamp": _stamp(claims.expires),
        },
    }


def _bound_object(store: Store, namespace: str, ref: Any) -> BoundObject | None:
    if not ref:
        return None
    if not isinstance(ref, dict):
        raise errors.bad_request("spec.boundObjectRef must be an object")
    kind, name, uid = ref.get("kind", ""), ref.get("name", ""), ref.get("uid", "")
    where = BINDABLE.get(kind)
    if where is None:
        raise errors.bad_request(f"cannot bind token for object of kind {kind!r}: supported kinds: Pod, Secret")
    obj = store.get((where[0], where[1], namespace, name))
    if obj is None:
        raise errors.ApiError(404, "NotFound", f'{where[1]} "{name}" not found', {"name": name, "kind": where[1]})
    actual = str(obj["metadata"].get("uid", ""))
    if uid and uid != actual:
        raise errors.ApiError(
            409, "Conflict",
            f"the UID in the bound object reference ({uid}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
            {"name": name, "kind": where[1]},
        )
    return BoundObject(kind, name, actual)


def user_of(claims: TokenClaims) -> UserInfo:
    """The identity a valid service account token authenticates as."""
    return UserInfo(
        claims.username,
        ("system:serviceaccounts", f"system:serviceaccounts:{claims.namespace}", "system:authenticated"),
        claims.service_account_uid,
    )


def default_service_account(
    ops: Operations, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
) -> None:
    """Controller hook: a new namespace gets its `default` ServiceAccount."""
    if rt.group or rt.plural != "namespaces" or old is not None or new["metadata"].get("deletionTimestamp"):
        return
    namespace = new["metadata"]["name"]
    if ops.store.exists(("", "serviceaccounts", namespace, DEFAULT_SERVICE_ACCOUNT)):
        return
    sa_rt = ops.registry.lookup("", "v1", "serviceaccounts")
    assert sa_rt is not None
    ops.create(sa_rt, namespace, {"metadata": {"name": DEFAULT_SERVICE_ACCOUNT}}, SYSTEM_USER)
