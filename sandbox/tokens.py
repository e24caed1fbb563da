"""Service account tokens: signed JWTs issued by TokenRequest and checked on every request.

Why JWTs and not table entries: a real API server's bound service account tokens are ES256/RS256
JWTs that carry who they are for (`sub`, the `kubernetes.io` claim with the namespace, the service
account's name and uid, an optional bound Pod or Secret), who may accept them (`aud`) and until when
(`exp`). Clients decode them, operators hand them to pods, and they stop working when the service
account (or the bound object) is deleted or recreated with a new uid, or when they expire. The
sandbox signs them with an ECDSA P-256 key kept next to its CA (so they survive a restart with
`--state`), and checks the same things the API server's token authenticator checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from sandbox.store import write_atomic

ISSUER = "https://kubernetes.default.svc.cluster.local"
# The audiences the API server accepts (its --api-audiences; defaults to the issuer).
API_AUDIENCES: tuple[str, ...] = (ISSUER,)
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
KEY_FILE = "sa.key"


@dataclass(frozen=True)
class BoundObject:
    """The object a token is bound to (a Pod, Secret or Node), as TokenRequest.spec.boundObjectRef."""

    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its holder."""

    namespace: str
    service_account: str
    service_account_uid: str
    audiences: tuple[str, ...]
    expires: int
    token_id: str
    bound: BoundObject | None = None

    @property
    def username(self) -> str:
        return f"{SERVICE_ACCOUNT_PREFIX}{self.namespace}:{self.service_account}"


# Checks that the objects a token names still exist: (kind, namespace, name) -> uid or None.
UidLookup = Callable[[str, str, str], "str | None"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies service account JWTs with one ECDSA key (created on first use)."""

    def __init__(self, directory: Path | None) -> None:
        path = directory / KEY_FILE if directory is not None else None
        if path is not None and path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            self._key = loaded
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            if path is not None:
                pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                write_atomic(path, pem.decode())
                path.chmod(0o600)
        public_der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = _b64(hashlib.sha256(public_der).digest())

    def issue(self, claims: TokenClaims, issued_at: int) -> str:
        payload: dict[str, Any] = {
            "aud": list(claims.audiences),
            "exp": claims.expires,
            "iat": issued_at,
            "iss": ISSUER,
            "jti": claims.token_id,
            "kubernetes.io": {
                "namespace": claims.namespace,
                "serviceaccount": {"name": claims.service_account, "uid": claims.service_account_uid},
            },
            "nbf": issued_at,
            "sub": claims.username,
        }
        if claims.bound is not None:
            payload["kubernetes.io"][claims.bound.kind.lower()] = {"name": claims.bound.name,
                                                                  "uid": claims.bound.uid}
        header = {"alg": "ES256", "kid": self.key_id}
        signing_input = f"{_b64(_compact(header))}.{_b64(_compact(payload))}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str, lookup: UidLookup, now: float | None = None) -> TokenClaims | None:
        """The claims of a token this server issued and would still accept, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            payload = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or len(signature) != 64:
            return None
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self._key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return None
        claims = _claims(payload)
        if claims is None or payload.get("iss") != ISSUER:
            return None
        moment = time.time() if now is None else now
        if moment >= claims.expires or moment + 60 < int(payload.get("nbf", 0)):
            return None
        if not set(claims.audiences) & set(API_AUDIENCES):
            return None
        if lookup("ServiceAccount", claims.namespace, claims.service_account) != claims.service_account_uid:
            return None
        if claims.bound is not None and lookup(claims.bound.kind, claims.namespace, claims.bound.name) \
                != claims.bound.uid:
            return None
        return claims


def _claims(payload: Any) -> TokenClaims | None:
    if not isinstance(payload, dict):
        return None
    k8s = payload.get("kubernetes.io")
    if not isinstance(k8s, dict) or not isinstance(k8s.get("serviceaccount"), dict):
        return None
    bound = None
    for kind in ("Pod", "Secret", "Node"):
        ref = k8s.get(kind.lower())
        if isinstance(ref, dict):
            bound = BoundObject(kind, str(ref.get("name", "")), str(ref.get("uid", "")))
    audiences = payload.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    try:
        return TokenClaims(
            namespace=str(k8s["namespace"]),
            service_account=str(k8s["serviceaccount"]["name"]),
            service_account_uid=str(k8s["serviceaccount"]["uid"]),
            audiences=tuple(str(a) for a in audiences or ()),
            expires=int(payload["exp"]),
            token_id=str(payload.get("jti", "")),
            bound=bound,
        )
    except (KeyError, TypeError, ValueError):
        return None


def new_token_id() -> str:
    return str(uuid.uuid4())
