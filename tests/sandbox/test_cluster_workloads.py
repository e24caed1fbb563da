"""Controllers of the simulated cluster through a real kubectl: rollouts, StatefulSets, Jobs, CronJobs,
endpoints, storage and autoscaling, each compared with what a real (kind) cluster shows.

The API server is the sandbox; the controllers are simulated (sandbox/controllers); time passes by
advancing the cluster clock (`sandbox.simulator.advance`)."""

from __future__ import annotations

import json
from typing import Any

from sandbox.server import SandboxServer
from tests.sandbox.conftest import Kubectl


def apply(kubectl: Kubectl, manifest: str) -> None:
    kubectl("apply", "-f", "-", stdin=manifest)


def get(kubectl: Kubectl, *what: str) -> Any:
    return json.loads(kubectl("get", *what, "-o", "json").stdout)


def jsonpath(kubectl: Kubectl, what: str, path: str) -> str:
    return kubectl("get", what, "-o", f"jsonpath={path}").stdout


def reasons(kubectl: Kubectl, name: str) -> list[str]:
    items = get(kubectl, "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [f"{e['reason']}: {e['message']}" for e in items]


def deployment(name: str, image: str, replicas: int = 3, extra: str = "", container: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: {replicas}
{extra}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: {name}
        image: {image}
{container}
"""


def test_rollout_status_undo_and_restart(kubectl: Kubectl) -> None:
    """Real cluster: `rollout status` reports success, `set image` makes revision 2 with a new ReplicaSet,
    `rollout undo` brings revision 1's template back as revision 3, `rollout restart` rolls new pods."""
    apply(kubectl, deployment("web", "nginx:1.26"))
    assert kubectl("rollout", "status", "deploy/web", "--timeout=20s").stdout.strip().endswith(
        'deployment "web" successfully rolled out')
    assert jsonpath(kubectl, "deploy/web", "{.status.readyReplicas}/{.status.availableReplicas}") == "3/3"
    kubectl("set", "image", "deploy/web", "web=nginx:1.27")
    kubectl("rollout", "status", "deploy/web", "--timeout=20s")
    sets = sorted(get(kubectl, "rs")["items"],
                  key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    assert [(rs["spec"]["replicas"], rs["spec"]["template"]["spec"]["containers"][0]["image"]) for rs in sets] == \
        [(0, "nginx:1.26"), (3, "nginx:1.27")]
    assert len([p for p in get(kubectl, "pods")["items"] if "nginx:1.27" in json.dumps(p["spec"])]) == 3
    kubectl("rollout", "undo", "deploy/web")
    kubectl("rollout", "status", "deploy/web", "--timeout=20s")
    assert jsonpath(kubectl, "deploy/web", "{.spec.template.spec.containers[0].image}") == "nginx:1.26"
    assert jsonpath(kubectl, "deploy/web", "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}") == "3"
    history = kubectl("rollout", "history", "deploy/web").stdout
    assert "2 " in history and "3 " in history
    before = {p["metadata"]["name"] for p in get(kubectl, "pods", "-l", "app=web")["items"]}
    kubectl("rollout", "restart", "deploy/web")
    kubectl("rollout", "status", "deploy/web", "--timeout=20s")
    after = {p["metadata"]["name"] for p in get(kubectl, "pods", "-l", "app=web")["items"]
             if not p["metadata"].get("deletionTimestamp")}
    assert len(after) == 3 and not before & after
    assert any("Scaled up replica set" in r for r in reasons(kubectl, "web"))


def test_a_broken_image_stalls_the_rollout_until_its_deadline(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: with maxUnavailable 25% of 4 (1) and maxSurge 1, the new ReplicaSet gets 2 pods stuck
    in ImagePullBackOff while 3 old pods keep serving; `rollout status` times out; after
    progressDeadlineSeconds, Progressing=False ProgressDeadlineExceeded and `rollout status` fails."""
    apply(kubectl, deployment("api", "nginx:1.27", replicas=4, extra="  progressDeadlineSeconds: 120"))
    kubectl("set", "image", "deploy/api", "api=nginx:9.99")
    status = get(kubectl, "deploy", "api")["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (5, 2, 3)
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"
    waited = kubectl("rollout", "status", "deploy/api", "--timeout=2s", check=False)
    assert waited.returncode != 0
    assert "Waiting for deployment \"api\" rollout to finish: 2 out of 4 new replicas have been updated" in waited.stdout
    sandbox.simulator.advance(121)
    progressing = next(c for c in get(kubectl, "deploy", "api")["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    failed = kubectl("rollout", "status", "deploy/api", "--timeout=5s", check=False)
    assert failed.returncode != 0 and 'deployment "api" exceeded its progress deadline' in failed.stderr
    kubectl("rollout", "undo", "deploy/api")
    kubectl("rollout", "status", "deploy/api", "--timeout=20s")


def test_a_crash_looping_deployment_is_not_available(kubectl: Kubectl) -> None:
    """Real cluster: READY 0/1, Available=False MinimumReplicasUnavailable, the pod in CrashLoopBackOff."""
    apply(kubectl, deployment("worker", "busybox:1.36", 1, container='        command: ["sh", "-c", "exit 2"]'))
    available = next(c for c in get(kubectl, "deploy", "worker")["status"]["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    line = kubectl("get", "deploy", "worker").stdout.splitlines()[1].split()
    assert line[1] == "0/1"
    assert "CrashLoopBackOff" in kubectl("get", "pods", "-l", "app=worker").stdout


def test_statefulset_pods_are_ordinal_with_their_own_claims(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: web-0, web-1, web-2 each with a Bound PVC data-web-N; scaling to 1 removes web-2 then
    web-1 and keeps their claims; data written on web-0's volume survives the pod being recreated."""
    apply(kubectl, """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: redis:7.4
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
""")
    kubectl("rollout", "status", "sts/web", "--timeout=20s")
    pods = sorted(p["metadata"]["name"] for p in get(kubectl, "pods", "-l", "app=db")["items"])
    assert pods == ["web-0", "web-1", "web-2"]
    claims = {c["metadata"]["name"]: c["status"]["phase"] for c in get(kubectl, "pvc")["items"]}
    assert claims == {"data-web-0": "Bound", "data-web-1": "Bound", "data-web-2": "Bound"}
    assert jsonpath(kubectl, "pod/web-1", "{.spec.hostname}.{.spec.subdomain}") == "web-1.web"
    assert sandbox.simulator is not None
    sandbox.call(lambda: sandbox.simulator.exec("default", "web-0", "", ["sh", "-c", "echo initial_data > /data/test"]))
    kubectl("scale", "sts/web", "--replicas=1")
    sandbox.simulator.advance(1)
    kubectl("wait", "pod/web-1", "pod/web-2", "--for=delete", "--timeout=20s")
    assert len(get(kubectl, "pvc")["items"]) == 3
    kubectl("delete", "pod", "web-0", "--timeout=20s")
    kubectl("wait", "--for=condition=Ready", "pod/web-0", "--timeout=20s")
    data = sandbox.call(lambda: sandbox.simulator.exec("default", "web-0", "", ["cat", "/data/test"]))
    assert data.stdout == "initial_data\n"


def test_jobs_complete_or_give_up(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: the documentation's pi Job completes after its pod ran (~10 s), logs hold the digits;
    a Job whose pod exits 1 fails with BackoffLimitExceeded after backoffLimit retries."""
    apply(kubectl, """
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
  backoffLimit: 4
""")
    assert jsonpath(kubectl, "job/pi", "{.status.active}") == "1"
    assert kubectl("get", "job", "pi").stdout.splitlines()[1].split()[1:3] == ["Running", "0/1"]
    sandbox.simulator.advance(11)
    kubectl("wait", "--for=condition=complete", "job/pi", "--timeout=10s")
    assert kubectl("logs", "job/pi").stdout.startswith("3.14159265358979323846")
    assert jsonpath(kubectl, "job/pi", "{.status.succeeded}") == "1"
    pod = get(kubectl, "pods", "-l", "job-name=pi")["items"][0]
    assert pod["status"]["phase"] == "Succeeded"
    apply(kubectl, """
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 2
  template:
    spec:
      containers: [{name: c, image: busybox:1.36, command: [sh, -c, "echo boom; exit 1"]}]
      restartPolicy: Never
""")
    sandbox.simulator.advance(200)
    kubectl("wait", "--for=condition=failed", "job/flaky", "--timeout=10s")
    failed = next(c for c in get(kubectl, "job", "flaky")["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert len(get(kubectl, "pods", "-l", "job-name=flaky")["items"]) == 3


def test_a_cronjob_runs_on_schedule_unless_suspended(kubectl: Kubectl, sandbox: SandboxServer) -> None:
    """Real cluster: every minute a Job `hello-<minutes>` appears and completes; lastScheduleTime moves;
    while suspended no Job is created, and on resume the most recent missed run starts at once (no
    startingDeadlineSeconds), then the schedule goes on."""
    assert sandbox.simulator is not None
    sandbox.simulator.advance(61 - sandbox.simulator.clock.now() % 60)  # far from the next minute
    apply(kubectl, """
apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: hello, image: busybox:1.36, command: [sh, -c, "date; echo Hello"]}]
          restartPolicy: OnFailure
""")
    assert get(kubectl, "jobs")["items"] == []
    sandbox.simulator.advance(61)
    jobs = get(kubectl, "jobs")["items"]
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("hello-")
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    kubectl("wait", "--for=condition=complete", f"job/{jobs[0]['metadata']['name']}", "--timeout=10s")
    assert jsonpath(kubectl, "cronjob/hello", "{.status.lastScheduleTime}")
    kubectl("patch", "cronjob", "hello", "-p", '{"spec": {"suspend": true}}')
    sandbox.simulator.advance(180)
    assert len(get(kubectl, "jobs")["items"]) == 1
    kubectl("patch", "cronjob", "hello", "-p", '{"spec": {"suspend": false}}')
    assert len(get(kubectl, "jobs")["items"]) == 2
    sandbox.simulator.advance(60)
    assert len(get(kubectl, "jobs")["items"]) == 3
    assert "SawCompletedJob" in " ".join(reasons(kubectl, "hello"))


def test_endpoints_follow_selectors_and_readiness(kubectl: Kubectl) -> None:
    """Real cluster: a Service's Endpoints/EndpointSlice list its ready pods; a selector that matches no
    pod leaves ENDPOINTS <none>; an unready pod is listed under notReadyAddresses / ready=false."""
    apply(kubectl, deployment("web", "nginx:1.27", 2) + """
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: typo}
spec: {selector: {app: wbe}, ports: [{port: 80}]}
""")
    addresses = get(kubectl, "endpoints", "web")["subsets"][0]["addresses"]
    assert len(addresses) == 2 and all(a["targetRef"]["kind"] == "Pod" for a in addresses)
    slices = get(kubectl, "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    assert len(slices) == 1 and [e["conditions"]["ready"] for e in slices[0]["endpoints"]] == [True, True]
    assert "subsets" not in get(kubectl, "endpoints", "typo")
    assert kubectl("get", "endpoints", "typo").stdout.splitlines()[1].split()[1] == "<none>"
    kubectl("patch", "deploy", "web", "--type=json", "-p", json.dumps([{
        "op": "add", "path": "/spec/template/spec/containers/0/readinessProbe",
        "value": {"httpGet": {"path": "/ready", "port": 80}}}]))
    subset = get(kubectl, "endpoints", "web")["subsets"][0]
    assert len(subset.get("notReadyAddresses", [])) >= 1


def test_claims_bind_expand_or_wait_for_a_reason(kubectl: Kubectl) -> None:
    """Real cluster: a claim of the default class binds to a provisioned pvc-<uid> volume and expands when
    its request grows; a claim of an unknown class stays Pending with ProvisioningFailed; a
    WaitForFirstConsumer claim waits until a pod uses it; a class without expansion refuses to grow."""
    apply(kubectl, """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: lost}
spec: {accessModes: [ReadWriteOnce], storageClassName: fast-ssd, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: later}
spec: {accessModes: [ReadWriteOnce], storageClassName: local-path, resources: {requests: {storage: 1Gi}}}
""")
    claim = get(kubectl, "pvc", "data")
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "standard"
    volume = claim["spec"]["volumeName"]
    assert volume == f"pvc-{claim['metadata']['uid']}"
    assert jsonpath(kubectl, f"pv/{volume}", "{.status.phase}") == "Bound"
    kubectl("patch", "pvc", "data", "-p", '{"spec": {"resources": {"requests": {"storage": "5Gi"}}}}')
    kubectl("wait", f"pv/{volume}", "--for=jsonpath={.spec.capacity.storage}=5Gi", "--timeout=10s")
    assert jsonpath(kubectl, "pvc/data", "{.status.capacity.storage}") == "5Gi"
    assert jsonpath(kubectl, "pvc/lost", "{.status.phase}") == "Pending"
    assert 'ProvisioningFailed: storageclass.storage.k8s.io "fast-ssd" not found' in reasons(kubectl, "lost")
    assert jsonpath(kubectl, "pvc/later", "{.status.phase}") == "Pending"
    assert "WaitForFirstConsumer: waiting for first consumer to be created before binding" in reasons(kubectl, "later")
    apply(kubectl, """
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  containers: [{name: app, image: nginx:1.27, volumeMounts: [{name: v, mountPath: /data}]}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: later}}]
""")
    kubectl("wait", "--for=condition=Ready", "pod/user", "--timeout=10s")
    assert jsonpath(kubectl, "pvc/later", "{.status.phase}") == "Bound"
    node = jsonpath(kubectl, "pod/user", "{.spec.nodeName}")
    assert jsonpath(kubectl, "pvc/later", "{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}") == node
    refused = kubectl("patch", "pvc", "later", "-p", '{"spec": {"resources": {"requests": {"storage": "2Gi"}}}}',
                      check=False)
    assert refused.returncode != 0
    assert "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must " \
           "support resize" in refused.stderr
    kubectl("delete", "pvc", "data")
    assert "NotFound" in kubectl("get", "pv", volume, check=False).stderr


def test_a_pod_on_a_missing_claim_is_unschedulable(kubectl: Kubectl) -> None:
    """Real cluster (k8s-bench's fix-pending-pod): FailedScheduling `persistentvolumeclaim "x" not found`."""
    apply(kubectl, """
apiVersion: v1
kind: Pod
metadata: {name: homepage}
spec:
  containers: [{name: nginx, image: nginx:latest, volumeMounts: [{name: s, mountPath: /usr/share/nginx/html}]}]
  volumes: [{name: s, persistentVolumeClaim: {claimName: homepage-pvc}}]
""")
    message = next(c for c in get(kubectl, "pod", "homepage")["status"]["conditions"]
                   if c["type"] == "PodScheduled")["message"]
    assert message == ('0/3 nodes are available: persistentvolumeclaim "homepage-pvc" not found. preemption: 0/3 '
                       "nodes are available: 3 Preemption is not helpful for scheduling.")


def test_an_hpa_reports_and_acts_on_the_declared_load(kubectl: Kubectl) -> None:
    """Real cluster with metrics-server: a deployment burning a full CPU against a 100m request is at
    1000% and scales to maxReplicas (ScalingLimited TooManyReplicas); an idle nginx reports its low
    utilization; a container without a cpu request makes ScalingActive False."""
    apply(kubectl, deployment("burn", "polinux/stress", 1, container=(
        '        command: ["stress", "--cpu", "1"]\n        resources: {requests: {cpu: 100m}}')) + """
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: burn}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: 1
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
""")
    status = get(kubectl, "hpa", "burn")["status"]
    assert status["desiredReplicas"] == 4
    assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 1000
    limited = next(c for c in status["conditions"] if c["type"] == "ScalingLimited")
    assert (limited["status"], limited["reason"]) == ("True", "TooManyReplicas")
    assert jsonpath(kubectl, "deploy/burn", "{.spec.replicas}") == "4"
    apply(kubectl, deployment("plain", "nginx:1.27", 1) + """
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: plain}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: plain}
  maxReplicas: 3
""")
    active = next(c for c in get(kubectl, "hpa", "plain")["status"]["conditions"] if c["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert "missing request for cpu in container plain" in active["message"]


def test_a_daemonset_runs_one_pod_per_node(kubectl: Kubectl) -> None:
    """Real cluster: one pod on each of the three nodes; DESIRED/CURRENT/READY 3."""
    apply(kubectl, """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox:1.36, command: [sleep, infinity]}]
""")
    nodes = sorted(p["spec"]["nodeName"] for p in get(kubectl, "pods", "-l", "app=agent")["items"])
    assert nodes == ["sandbox-worker", "sandbox-worker2", "sandbox-worker3"]
    status = get(kubectl, "ds", "agent")["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"]) == (3, 3, 3)


def test_traffic_goes_through_services_to_ready_pods(kubectl: Kubectl) -> None:
    """Real cluster: from a client pod, `wget -qO- http://web` returns nginx's page through the Service;
    a Service whose targetPort nobody listens on refuses the connection; an unknown name is a bad
    address (busybox's wording); cluster DNS answers for Services."""
    apply(kubectl, deployment("web", "nginx:1.27", 2) + """
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: wrong}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, infinity]}]
""")
    page = kubectl("exec", "client", "--", "wget", "-qO-", "http://web.default.svc.cluster.local")
    assert "<title>Welcome to nginx!</title>" in page.stdout
    refused = kubectl("exec", "client", "--", "wget", "-qO-", "http://wrong", check=False)
    assert refused.returncode == 1 and "can't connect to remote host" in refused.stderr
    unknown = kubectl("exec", "client", "--", "wget", "-qO-", "http://nowhere", check=False)
    assert "wget: bad address 'nowhere'" in unknown.stderr
    ip = jsonpath(kubectl, "svc/web", "{.spec.clusterIP}")
    assert f"Address: {ip}" in kubectl("exec", "client", "--", "nslookup", "web").stdout


def test_a_class_whose_provisioner_does_not_run_leaves_claims_waiting(kubectl: Kubectl) -> None:
    """Real cluster: a StorageClass naming a provisioner nobody runs (here: one the behaviour file does not
    declare; the default one declares the EBS and Azure Disk drivers of gp2/gp3/managed-csi) leaves its claims
    Pending with ExternalProvisioning; an administrator's matching PV binds."""
    apply(kubectl, """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ebs}
provisioner: filestore.csi.example.com
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orphan}
spec: {accessModes: [ReadWriteOnce], storageClassName: ebs, resources: {requests: {storage: 1Gi}}}
""")
    assert jsonpath(kubectl, "pvc/orphan", "{.status.phase}") == "Pending"
    assert any(r.startswith('ExternalProvisioning: Waiting for a volume to be created either by the external '
                            'provisioner "filestore.csi.example.com"') for r in reasons(kubectl, "orphan"))
    apply(kubectl, """
apiVersion: v1
kind: PersistentVolume
metadata: {name: manual}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ebs
  hostPath: {path: /mnt/manual}
""")
    kubectl("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/orphan", "--timeout=10s")
    assert jsonpath(kubectl, "pvc/orphan", "{.spec.volumeName}") == "manual"
