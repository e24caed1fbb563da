"""ServiceAccount tokens (TokenRequest) and the `default` ServiceAccount of every namespace.

What a real cluster shows: `kubectl create token SA -n NS` prints a JWT that authenticates as
`system:serviceaccount:NS:SA` with the groups system:serviceaccounts, system:serviceaccounts:NS and
system:authenticated; it grants nothing until RBAC binds the account; it stops working when the
account is deleted (even if recreated) and when it expires; it is refused by the API server when it
was minted for another audience; and every namespace has a `default` ServiceAccount.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from kubernetes import client

from sandbox.server import SandboxServer
from sandbox.serviceaccounts import uid_lookup
from tests.sandbox.conftest import Kubectl, api_client


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_create_token_authenticates_as_the_service_account(kubectl: Kubectl) -> None:
    """The token of `kubectl create token` is who `kubectl auth whoami` says, and RBAC decides what it may do."""
    kubectl("create", "namespace", "shop")
    kubectl("create", "serviceaccount", "bot", "-n", "shop")
    token = kubectl("create", "token", "bot", "-n", "shop").stdout.strip()
    claims = _claims(token)
    assert claims["sub"] == "system:serviceaccount:shop:bot"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert int(str(claims["exp"])) - int(str(claims["iat"])) == 3600
    whoami = kubectl("--token", token, "auth", "whoami", "-o", "json")
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:shop:bot"
    assert info["groups"] == ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"]
    denied = kubectl("--token", token, "get", "pods", "-n", "shop", check=False)
    assert denied.returncode == 1
    assert ('pods is forbidden: User "system:serviceaccount:shop:bot" cannot list resource "pods" in API '
            'group "" in the namespace "shop"') in denied.stderr
    kubectl("create", "role", "reader", "-n", "shop", "--verb=list", "--resource=pods")
    kubectl("create", "rolebinding", "bot-reads", "-n", "shop", "--role=reader", "--serviceaccount=shop:bot")
    assert kubectl("--token", token, "get", "pods", "-n", "shop").returncode == 0


def test_token_dies_with_its_service_account(kubectl: Kubectl) -> None:
    """Deleting the account invalidates its tokens; a new account of the same name does not revive them."""
    kubectl("create", "serviceaccount", "bot")
    token = kubectl("create", "token", "bot").stdout.strip()
    assert kubectl("--token", token, "auth", "whoami").returncode == 0
    kubectl("delete", "serviceaccount", "bot")
    kubectl("create", "serviceaccount", "bot")
    gone = kubectl("--token", token, "auth", "whoami", check=False)
    assert gone.returncode == 1
    assert "Unauthorized" in gone.stderr


def test_token_request_is_validated(kubectl: Kubectl) -> None:
    """Too short a duration is 422 with the real wording; an unknown account is 404; another audience is refused."""
    kubectl("create", "serviceaccount", "bot")
    short = kubectl("create", "token", "bot", "--duration", "5m", check=False)
    assert short.returncode == 1
    assert ('TokenRequest.authentication.k8s.io "bot" is invalid: spec.expirationSeconds: Invalid value: 300: '
            'may not specify a duration less than 10 minutes') in short.stderr
    missing = kubectl("create", "token", "ghost", check=False)
    assert 'serviceaccounts "ghost" not found' in missing.stderr
    vault = kubectl("create", "token", "bot", "--audience", "vault").stdout.strip()
    assert _claims(vault)["aud"] == ["vault"]
    refused = kubectl("--token", vault, "auth", "whoami", check=False)
    assert refused.returncode == 1 and "Unauthorized" in refused.stderr


def test_creating_tokens_needs_create_on_serviceaccounts_token(sandbox: SandboxServer, kubectl: Kubectl) -> None:
    """A user may mint tokens only with `create serviceaccounts/token`; `get serviceaccounts` is not enough."""
    kubectl("create", "serviceaccount", "bot")
    alice = sandbox.user_kubeconfig("alice")
    kubectl("create", "role", "sa-reader", "--verb=get", "--resource=serviceaccounts")
    kubectl("create", "rolebinding", "alice-reads", "--role=sa-reader", "--user=alice")
    denied = kubectl("create", "token", "bot", kubeconfig=alice, check=False)
    assert denied.returncode == 1
    assert ('serviceaccounts "bot" is forbidden: User "alice" cannot create resource "serviceaccounts/token" '
            'in API group "" in the namespace "default"') in denied.stderr
    kubectl("create", "role", "token-minter", "--verb=create", "--resource=serviceaccounts/token")
    kubectl("create", "rolebinding", "alice-mints", "--role=token-minter", "--user=alice")
    assert kubectl("create", "token", "bot", kubeconfig=alice).stdout.count(".") == 2


def test_every_namespace_has_a_default_service_account(kubectl: Kubectl) -> None:
    """`default` exists in the initial namespaces and in every namespace as soon as it is created."""
    kubectl("create", "namespace", "shop")
    listed = kubectl("get", "serviceaccounts", "-A", "-o", "jsonpath={range .items[*]}"
                     "{.metadata.namespace}/{.metadata.name} {end}").stdout.split()
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease", "shop"):
        assert f"{namespace}/default" in listed
    token = kubectl("create", "token", "default", "-n", "shop").stdout.strip()
    assert _claims(token)["sub"] == "system:serviceaccount:shop:default"


def test_tokens_survive_a_restart_and_expire(tmp_path: Path) -> None:
    """With a state dir the signing key persists; the official client mints a token; past `exp` it is refused."""
    state = tmp_path / "state"
    with SandboxServer(home=tmp_path / "h1", state_dir=state) as first:
        api = api_client(first)
        core = client.CoreV1Api(api)
        core.create_namespaced_service_account("default", {"metadata": {"name": "bot"}})
        answer = core.create_namespaced_service_account_token(
            "bot", "default", {"spec": {"expirationSeconds": 600, "audiences": []}})
        token = answer.status.token
        assert answer.spec.expiration_seconds == 600
        api.close()
    with SandboxServer(home=tmp_path / "h2", state_dir=state) as second:
        configuration = client.Configuration()
        configuration.host = second.url
        configuration.ssl_ca_cert = str(second.ca_path)
        configuration.api_key = {"authorization": f"Bearer {token}"}
        with client.ApiClient(configuration) as as_bot:
            review = client.AuthenticationV1Api(as_bot).create_self_subject_review({})
            assert review.status.user_info.username == "system:serviceaccount:default:bot"
        signer, lookup = second.cluster.signer, uid_lookup(second.store)
        expires = int(str(_claims(token)["exp"]))
        assert second.call(lambda: signer.verify(token, lookup, now=expires - 1)) is not None
        assert second.call(lambda: signer.verify(token, lookup, now=expires)) is None


@pytest.mark.parametrize("tamper", ["payload", "signature"])
def test_a_tampered_token_is_refused(sandbox: SandboxServer, kubectl: Kubectl, tamper: str) -> None:
    """Changing the subject or the signature of a real token makes it worthless (401)."""
    kubectl("create", "serviceaccount", "bot")
    header, payload, signature = kubectl("create", "token", "bot").stdout.strip().split(".")
    if tamper == "payload":
        claims = _claims(f"{header}.{payload}.{signature}")
        claims["sub"] = "system:serviceaccount:kube-system:admin"
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    else:
        signature = signature[::-1]
    refused = kubectl("--token", f"{header}.{payload}.{signature}", "auth", "whoami", check=False)
    assert refused.returncode == 1 and "Unauthorized" in refused.stderr
