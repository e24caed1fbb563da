"""`aiop doctor`: a preflight for a real cluster, like `flux check --pre`.

Why: an install fails in a dozen quiet ways (an API server too old for ValidatingAdmissionPolicy,
stale CRDs, a policy without its binding, a ServiceAccount missing a right or the rights to take the
snapshots an approved plan covers, in Kubernetes or as its AWS role or Azure identity, a repo the token
cannot push to, a knowledge DB reached without TLS, a backend key that is wrong) and each shows up
much later as a stuck thread. Each check here asks the real thing once and says, in one line, what is
wrong and what to do. Checks that do not apply to the configuration say so and pass. Exit code 0 when
every check passes, 1 otherwise.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.adapters.forge_auth import git_auth_env, load_credentials
from controller.adapters.kube import Kube, KubeError, Unreachable
from controller.adapters.snapshots import cloud_rights
from controller.api.constants import GROUP, PLURAL_CONVERSATION, PLURAL_REQUEST
from controller.api.crds import all_crds
from controller.cloud.access import cloud_access
from controller.cloud.seam import AzurePermissions, AzureReads, CloudError
from controller.settings import Settings

MIN_MINOR = 30  # admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy is GA in 1.30
SYNC_CRDS = {"argocd": ("applications.argoproj.io", "appprojects.argoproj.io"),
             "flux": ("gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io")}
CLOUD_CRDS = {"eks": ("buckets.s3.services.k8s.aws",),
              "aks": ("resourcegroups.resources.azure.com", "storageaccounts.storage.azure.com")}
CRD_API = "apiextensions.k8s.io/v1"
CSI_GROUP, VELERO_GROUP = "snapshot.storage.k8s.io", "velero.io"
CSI_SNAPSHOT_CRD, VELERO_BACKUP_CRD = f"volumesnapshots.{CSI_GROUP}", f"backups.{VELERO_GROUP}"


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.name}: {self.detail}" + (f" — {self.fix}" if self.fix else "")


def _crd(kube: Kube, name: str) -> dict[str, Any] | None:
    return kube.get(CRD_API, "CustomResourceDefinition", name)


def check_version(kube: Kube, settings: Settings) -> Result:
    info = kube.request("GET", "/version")
    minor = int("".join(ch for ch in str(info.get("minor", "0")) if ch.isdigit()) or 0)
    version = info.get("gitVersion") or f"v{info.get('major')}.{info.get('minor')}"
    if str(info.get("major")) == "1" and minor < MIN_MINOR:
        return Result("API server", False, f"{version} is older than 1.{MIN_MINOR}",
                      "upgrade the cluster: the admission policy needs admissionregistration.k8s.io/v1 (1.30+)")
    return Result("API server", True, f"{version} (≥ 1.{MIN_MINOR})")


def check_crds(kube: Kube, settings: Settings) -> Result:
    stale, missing = [], []
    for crd in all_crds():
        live = _crd(kube, crd["metadata"]["name"])
        if live is None:
            missing.append(crd["metadata"]["name"])
            continue
        served = {v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in live["spec"].get("versions", [])}
        for version in crd["spec"]["versions"]:
            if served.get(version["name"]) != version["schema"]["openAPIV3Schema"]:
                stale.append(f"{crd['metadata']['name']} {version['name']}")
    if missing or stale:
        what = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                       f"different from this version's {', '.join(stale)}" if stale else ""]))
        return Result("CRDs", False, what, "apply charts/ai-operator/crds/ (Helm does not upgrade CRDs): "
                                            "`aiop crds | kubectl apply --server-side -f -`")
    return Result("CRDs", True, f"{len(all_crds())} installed and current")


def check_admission(kube: Kube, settings: Settings) -> Result:
    group = "admissionregistration.k8s.io/v1"
    ours = [p["metadata"]["name"] for p in kube.list(group, "ValidatingAdmissionPolicy")
            if any(GROUP in (rule.get("apiGroups") or []) and PLURAL_CONVERSATION in (rule.get("resources") or [])
                   for rule in (p["spec"].get("matchConstraints") or {}).get("resourceRules") or [])]
    if not ours:
        return Result("admission policy", False, "no ValidatingAdmissionPolicy matches aiconversations",
                      "install the chart with admissionPolicy.enabled=true")
    bindings = [b for b in kube.list(group, "ValidatingAdmissionPolicyBinding") if b["spec"].get("policyName") in ours]
    enforced = [b for b in bindings if "Deny" in (b["spec"].get("validationActions") or [])]
    if not enforced:
        state = "bound without Deny (Warn/Audit only)" if bindings else "not bound"
        return Result("admission policy", False, f"{', '.join(ours)} is {state}: identities are not enforced",
                      "set admissionPolicy.validationActions: [Deny]")
    return Result("admission policy", True, f"{ours[0]} bound by {enforced[0]['metadata']['name']} (Deny)")


def required_rights(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(verb, group, resource, namespace) the controller needs as itself (the chart's RBAC)."""
    ns = settings.kube.operator_namespace
    rights = [("watch", GROUP, PLURAL_CONVERSATION, ""), ("watch", GROUP, PLURAL_REQUEST, ""),
              ("patch", GROUP, f"{PLURAL_CONVERSATION}/status", ""), ("patch", GROUP, f"{PLURAL_REQUEST}/status", ""),
              ("create", "", "events", ""), ("create", "authorization.k8s.io", "subjectaccessreviews", ""),
              ("impersonate", "", "users", ""), ("impersonate", "", "groups", ""),
              ("get", "apiextensions.k8s.io", "customresourcedefinitions", ""),
              ("get", "apps", "deployments", ""), ("create", "", "secrets", ns), ("update", "coordination.k8s.io",
                                                                                  "leases", ns)]
    if settings.sync.engine == "argocd":
        rights.append(("create", "argoproj.io", "applications", settings.sync.argocd_namespace))
    if settings.sync.engine == "flux":
        rights.append(("create", "kustomize.toolkit.fluxcd.io", "kustomizations", settings.sync.flux_namespace))
    return rights


def _missing(kube: Kube, who: str, rights: list[tuple[str, str, str, str]]) -> list[str]:
    """The rights `who` lacks, by SubjectAccessReview (or, without `who`, SelfSubjectAccessReviews)."""
    missing = []
    for verb, group, resource, namespace in rights:
        resource_name, _, sub = resource.partition("/")
        attrs = {k: v for k, v in {"verb": verb, "group": group, "resource": resource_name, "subresource": sub,
                                   "namespace": namespace}.items() if v or k == "group"}
        if who:
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                      "spec": {"user": who, "groups": _sa_groups(who), "resourceAttributes": attrs}}
            answer = kube.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
        else:
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": attrs}}
            answer = kube.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        if not (answer.get("status") or {}).get("allowed"):
            where = f" in {namespace}" if namespace else ""
            missing.append(f"{verb} {resource}{'.' + group if group else ''}{where}")
    return missing


def check_rights(kube: Kube, settings: Settings) -> Result:
    """SubjectAccessReviews for the controller's ServiceAccount (or, without one, SelfSubjectAccessReviews)."""
    who = settings.kube.service_account
    missing = _missing(kube, who, required_rights(settings))
    subject = who or "this identity"
    if missing:
        return Result("controller rights", False, f"{subject} may not {'; '.join(missing)}",
                      "install the chart's RBAC (rbac.create=true) for this ServiceAccount")
    return Result("controller rights", True, f"{subject} holds all {len(required_rights(settings))} rights it needs")


def _snapshot_rights(kube: Kube, settings: Settings) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """(the snapshot engines this cluster serves, the rights the controller needs as itself to use them)."""
    if settings.snapshots.volumes == "none":
        return [], []
    engines: list[str] = []
    rights: list[tuple[str, str, str, str]] = []
    if settings.snapshots.volumes in ("auto", "csi") and _crd(kube, CSI_SNAPSHOT_CRD) is not None:
        engines.append("CSI VolumeSnapshots")
        rights += [(verb, CSI_GROUP, "volumesnapshots", "") for verb in ("create", "get", "delete")]
        rights += [("list", CSI_GROUP, "volumesnapshotclasses", ""), ("get", "storage.k8s.io", "storageclasses", "")]
    if settings.snapshots.volumes in ("auto", "velero") and _crd(kube, VELERO_BACKUP_CRD) is not None:
        ns = settings.snapshots.velero_namespace
        engines.append(f"Velero (namespace {ns})")
        rights += [("create", VELERO_GROUP, "backups", ns), ("get", VELERO_GROUP, "backups", ns),
                   ("create", VELERO_GROUP, "deletebackuprequests", ns),
                   ("list", VELERO_GROUP, "backupstoragelocations", ns)]
    return engines, rights


def check_snapshots(kube: Kube, settings: Settings) -> Result:
    """May the controller take the snapshots the cluster can take (a plan's approval covers them)?"""
    if settings.snapshots.volumes == "none":
        return Result("snapshot rights", True, "volume snapshots are off (AIOP_SNAPSHOT_VOLUMES=none)")
    engines, rights = _snapshot_rights(kube, settings)
    if not engines:
        return Result("snapshot rights", True, "no VolumeSnapshot or Velero CRDs: volumes are snapshotted only "
                                               "through a configured cloud's SDK, or not at all")
    who = settings.kube.service_account
    missing = _missing(kube, who, rights)
    if missing:
        return Result("snapshot rights", False, f"{who or 'this identity'} may not {'; '.join(missing)}",
                      "install the chart's RBAC (rbac.create=true): without these, plans that put data at risk "
                      "fail before any change")
    return Result("snapshot rights", True, f"{' and '.join(engines)}: {len(rights)} rights held")


def _sa_groups(user: str) -> list[str]:
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}", "system:authenticated"]
    return ["system:authenticated"]


def check_repo(kube: Kube, settings: Settings) -> Result:
    """`git ls-remote` (reachable) and a dry-run push of a new branch (writable), with the operator's token."""
    url = settings.git.repo_url
    if not url:
        return Result("thread repo", True, "none configured: a repo inside the pod (demo only, lost with it)",
                      "set settings.threadsRepoUrl for a real install")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if settings.git.forge != "local":
        token = load_credentials(settings.git.forge_settings).token
        if token:
            env.update(git_auth_env("oauth2" if settings.git.forge == "gitlab" else "x-access-token", token))
    with tempfile.TemporaryDirectory() as scratch:
        def git(*args: str, cwd: str = scratch) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)

        reach = git("ls-remote", "--heads", url)
        if reach.returncode != 0:
            return Result("thread repo", False, f"{url} is not reachable: {_last(reach.stderr)}",
                          "check the URL, the network path and AIOP_FORGE_TOKEN")
        git("init", "-q")
        git("-c", "user.name=aiop", "-c", "user.email=aiop@localhost", "commit", "-q", "--allow-empty", "-m", "doctor")
        push = git("push", "--dry-run", url, "HEAD:refs/heads/aiop-doctor-check")
        if push.returncode != 0 or (Path(url).exists() and not os.access(url, os.W_OK)):
            return Result("thread repo", False, f"{url} is reachable but not writable: {_last(push.stderr)}",
                          "give the token push rights (contents: write) on the repo")
    return Result("thread repo", True, f"{url} is reachable and accepts pushes")


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no answer"


def check_sync_engine(kube: Kube, settings: Settings) -> Result:
    engine = settings.sync.engine
    if engine == "direct":
        return Result("sync engine", True, "direct (server-side apply as the requester): nothing to install")
    wanted = SYNC_CRDS if engine == "auto" else {engine: SYNC_CRDS[engine]}
    found = {name: all(_crd(kube, crd) for crd in crds) for name, crds in wanted.items()}
    if not any(found.values()):
        return Result("sync engine", False, f"{engine}: {' or '.join(c for crds in wanted.values() for c in crds)} "
                                            "not installed", f"install {' or '.join(wanted)} first, or set "
                                                             "settings.syncEngine: direct")
    return Result("sync engine", True, f"{engine}: {', '.join(n for n, ok in found.items() if ok)} CRDs installed")


def check_cloud(kube: Kube, settings: Settings) -> Result:
    provider = settings.cloud_provider
    if provider == "none":
        return Result("cloud controllers", True, "no cloud provider configured: cloud actions are off")
    missing = [crd for crd in CLOUD_CRDS[provider] if _crd(kube, crd) is None]
    operator = "ACK (AWS Controllers for Kubernetes)" if provider == "eks" else "Azure Service Operator v2"
    if missing:
        return Result("cloud controllers", False, f"{provider}: {', '.join(missing)} not installed",
                      f"install {operator} for cloud actions, or set cloud.provider: none")
    return Result("cloud controllers", True, f"{provider}: {operator} CRDs installed")


def check_cloud_snapshot_rights(kube: Kube, settings: Settings) -> Result:
    """May the controller's own cloud identity make the EBS/RDS and Azure snapshot calls (README's policies)?"""
    name, c = "cloud snapshot rights", settings.cloud
    if not c.aws and not c.azure_subscription_id:
        return Result(name, True, "cloud snapshots are off (neither AIOP_AWS nor AIOP_AZURE_SUBSCRIPTION_ID is set)")
    verdicts = []
    access = cloud_access(settings)
    if access.aws is not None:
        verdicts.append(cloud_rights.check_aws(access.aws, c.aws_role_arn))
    if access.azure is not None and access.own_permissions is not None:
        verdicts.append(_azure_snapshot_rights(access.azure, access.own_permissions,
                                               list(settings.snapshots.azure_resource_groups)))
    return Result(name, all(v.ok for v in verdicts), "; ".join(v.detail for v in verdicts),
                  "; ".join(v.fix for v in verdicts if v.fix))


def _azure_snapshot_rights(azure: AzureReads, own: AzurePermissions, groups: list[str]) -> cloud_rights.Verdict:
    """The configured resource groups, else those holding the managed disks the controller can read."""
    if not groups:
        try:
            disks = azure.disks()
        except CloudError as exc:
            return cloud_rights.Verdict(False, f"Azure: cannot list the managed disks to find their groups: {exc}",
                                        "set AIOP_SNAPSHOT_AZURE_RESOURCE_GROUPS, or grant Reader on the subscription")
        groups = sorted({d.resource_group for d in disks if d.resource_group}, key=str.lower)
    sub = azure.subscription
    scopes = [g if g.startswith("/subscriptions/") else f"/subscriptions/{sub}/resourceGroups/{g}" for g in groups]
    return cloud_rights.check_azure(own, scopes)


def check_knowledge(kube: Kube, settings: Settings) -> Result:
    url = settings.knowledge_url
    if not url:
        return Result("knowledge DB", True, "none configured: the embedded DuckDB under AIOP_HOME")
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            tls = conn.pgconn.ssl_in_use
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return Result("knowledge DB", False, f"cannot connect: {_last(str(exc))}",
                      "check knowledge.centralUrl, the network path and the Secret's knowledge-db-password")
    if not tls:
        return Result("knowledge DB", False, "connected without TLS",
                      "add sslmode=verify-full (or require) to knowledge.centralUrl and enable TLS on the server")
    return Result("knowledge DB", True, "reachable over TLS")


def check_backends(kube: Kube, settings: Settings) -> Result:
    if not settings.planning.backends_file:
        return Result("AI backends", True, "none configured: the built-in offline planner")
    from controller.backends.config import OfflineConfig, load_config
    from controller.backends.errors import ConfigError
    from controller.backends.factory import make_client
    from controller.backends.wire import Msg
    from controller.settings import environment

    try:
        config = load_config(settings.planning.backends_file)
    except ConfigError as exc:
        return Result("AI backends", False, str(exc), "fix the backends file")
    failed, answered = [], []
    for cfg in config.backends:
        if isinstance(cfg, OfflineConfig):
            continue
        try:
            client = make_client(cfg, environment(), settings.planning.backend_secrets_dir or None)
            client.complete("Answer with one word.", [Msg(role="user", text="ping")], [], False)
            answered.append(cfg.name)
        except Exception as exc:  # every failure of a backend is a red line, with its own words
            failed.append(f"{cfg.name}: {_last(str(exc))[:200]}")
    if failed:
        return Result("AI backends", False, "; ".join(failed), "check each backend's URL, model and key variable")
    return Result("AI backends", True, f"{', '.join(answered) or 'offline only'} answering")


CHECKS: tuple[Callable[[Kube, Settings], Result], ...] = (
    check_version, check_crds, check_admission, check_rights, check_snapshots, check_repo, check_sync_engine, check_cloud,
    check_cloud_snapshot_rights, check_knowledge, check_backends)


def run_checks(kube: Kube, settings: Settings) -> list[Result]:
    """Every check, in order; an API server that cannot be reached fails the checks that need it."""
    results = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        try:
            results.append(check(kube, settings))
        except Unreachable as exc:
            results.append(Result(name, False, exc.message, "check the kubeconfig or the in-cluster network"))
        except KubeError as exc:
            results.append(Result(name, False, f"the API server answered {exc.code}: {exc.message}",
                                  "run doctor with rights to read CRDs and create access reviews"))
    return results

