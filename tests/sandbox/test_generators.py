"""kubectl's generators send protobuf; the sandbox decodes every built-in kind they send.

What a real cluster shows: `kubectl create deployment|service|job|cronjob|poddisruptionbudget|
priorityclass|quota|ingress|secret ...`, `kubectl run` and `kubectl expose` create exactly the objects
their flags describe (these commands encode `application/vnd.kubernetes.protobuf`, never JSON).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox.errors import ApiError
from sandbox.protobuf import MAGIC, decode_body, go_duration
from tests.sandbox.conftest import Kubectl, as_json


def _get(kubectl: Kubectl, what: str, namespace: str = "default") -> Any:
    return as_json(kubectl("get", what, "-n", namespace, "-o", "json"))


def test_workload_generators(kubectl: Kubectl) -> None:
    """Deployment, Job, CronJob, Job from a CronJob and `kubectl run` carry every flag into the object."""
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=8080")
    web = _get(kubectl, "deployment/web")
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.25")
    assert container["ports"][0]["containerPort"] == 8080
    kubectl("create", "deployment", "idle", "--image=busybox", "--replicas=0")
    assert _get(kubectl, "deployment/idle")["spec"]["replicas"] == 0  # a pointer's zero survives
    kubectl("create", "job", "once", "--image=busybox", "--", "echo", "hi")
    job = _get(kubectl, "job/once")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    kubectl("create", "cronjob", "nightly", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
    cron = _get(kubectl, "cronjob/nightly")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    kubectl("create", "job", "manual", "--from=cronjob/nightly")
    manual = _get(kubectl, "job/manual")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["metadata"]["ownerReferences"][0]["name"] == "nightly"
    kubectl("run", "tool", "--image=nginx", "--port=80", "--labels=app=tool,tier=debug", "--env=A=B",
            "--restart=Never", "--", "sleep", "3600")
    pod = _get(kubectl, "pod/tool")
    assert pod["metadata"]["labels"] == {"app": "tool", "tier": "debug"}
    spec = pod["spec"]["containers"][0]
    assert (spec["args"], spec["env"], spec["ports"][0]["containerPort"]) == (["sleep", "3600"],
                                                                              [{"name": "A", "value": "B"}], 80)
    assert pod["spec"]["restartPolicy"] == "Never"


def test_service_generators_and_expose(kubectl: Kubectl) -> None:
    """Every `create service` flavour and `kubectl expose` decode ports, node ports and selectors."""
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    web = _get(kubectl, "service/web")
    assert web["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert web["spec"]["type"] == "ClusterIP" and web["spec"]["selector"] == {"app": "web"}
    kubectl("create", "service", "nodeport", "np", "--tcp=80:http", "--node-port=30080")
    port = _get(kubectl, "service/np")["spec"]["ports"][0]
    assert (port["nodePort"], port["targetPort"]) == (30080, "http")  # IntOrString, both ways
    kubectl("create", "service", "externalname", "ext", "--external-name=db.example.com")
    assert _get(kubectl, "service/ext")["spec"]["externalName"] == "db.example.com"
    kubectl("create", "deployment", "api", "--image=nginx", "--port=80")
    kubectl("expose", "deployment", "api", "--name=api-public", "--port=8081", "--target-port=80",
            "--type=LoadBalancer")
    exposed = _get(kubectl, "service/api-public")
    assert exposed["spec"]["selector"] == {"app": "api"} and exposed["spec"]["type"] == "LoadBalancer"
    assert exposed["spec"]["ports"][0]["port"] == 8081


def test_policy_and_config_generators(kubectl: Kubectl, tmp_path: Path) -> None:
    """PDB, PriorityClass, ResourceQuota, Ingress and the three Secret kinds, as their flags say."""
    kubectl("create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=50%")
    assert _get(kubectl, "pdb/pdb")["spec"] == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    kubectl("create", "priorityclass", "high", "--value=1000", "--description=top",
            "--preemption-policy=Never")
    high = as_json(kubectl("get", "priorityclass", "high", "-o", "json"))
    assert (high["value"], high["description"], high["preemptionPolicy"]) == (1000, "top", "Never")
    kubectl("create", "quota", "q", "--hard=cpu=1,memory=1Gi,pods=10", "--scopes=NotTerminating")
    quota = _get(kubectl, "resourcequota/q")
    assert quota["spec"] == {"hard": {"cpu": "1", "memory": "1Gi", "pods": "10"}, "scopes": ["NotTerminating"]}
    kubectl("create", "ingress", "shop", "--class=nginx", "--rule=shop.example.com/api*=api:80,tls=shop-tls")
    ingress = _get(kubectl, "ingress/shop")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["http"]["paths"][0] == {
        "backend": {"service": {"name": "api", "port": {"number": 80}}}, "path": "/api", "pathType": "Prefix"}
    assert ingress["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    kubectl("create", "secret", "generic", "creds", "--from-literal=user=admin", "--type=Opaque")
    assert base64.b64decode(_get(kubectl, "secret/creds")["data"]["user"]) == b"admin"
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=shop", "-days", "1"], check=True, capture_output=True)
    kubectl("create", "secret", "tls", "shop-tls", f"--cert={cert}", f"--key={key}")
    tls = _get(kubectl, "secret/shop-tls")
    assert tls["type"] == "kubernetes.io/tls" and base64.b64decode(tls["data"]["tls.crt"]) == cert.read_bytes()
    kubectl("create", "secret", "docker-registry", "pull", "--docker-server=r.example.com",
            "--docker-username=u", "--docker-password=p")
    auths = json.loads(base64.b64decode(_get(kubectl, "secret/pull")["data"][".dockerconfigjson"]))["auths"]
    assert auths["r.example.com"]["username"] == "u"


def _field(number: int, payload: bytes) -> bytes:
    return bytes([(number << 3) | 2, len(payload)]) + payload


def _varint_field(number: int, value: int) -> bytes:
    return bytes([number << 3, value])


def test_unknown_fields_and_kinds_are_refused_not_dropped() -> None:
    """A field number the schema lacks is a 400 naming it; a kind without a schema is a 415."""
    type_meta = _field(1, _field(1, b"v1") + _field(2, b"ConfigMap"))
    good = _field(1, _field(1, b"cfg")) + _field(2, _field(1, b"k") + _field(2, b"v"))
    assert decode_body(MAGIC + type_meta + _field(2, good))["data"] == {"k": "v"}
    with pytest.raises(ApiError) as err:
        decode_body(MAGIC + type_meta + _field(2, good + _varint_field(9, 1)))
    assert err.value.code == 400 and "core/v1.ConfigMap has no field 9" in err.value.message
    foreign = _field(1, _field(1, b"example.com/v1") + _field(2, b"Widget"))
    with pytest.raises(ApiError) as err:
        decode_body(MAGIC + foreign + _field(2, b""))
    assert err.value.code == 415


@pytest.mark.parametrize(("nanoseconds", "text"), [
    (0, "0s"), (1_500_000_000, "1.5s"), (250_000_000, "250ms"), (90_000_000_000, "1m30s"),
    (3_600_000_000_000, "1h0m0s"), (-2_000_000_000, "-2s"),
])
def test_durations_print_as_go_does(nanoseconds: int, text: str) -> None:
    """metav1.Duration fields decode to Go's time.Duration.String."""
    assert go_duration(nanoseconds) == text
