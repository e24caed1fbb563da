"""Objects the snapshot tests share: the real CSI snapshot and Velero CRDs, classes, claims, workloads.

The CRDs are the upstream ones from ../shared/schemas (external-snapshotter, Velero), plus Velero's
DeleteBackupRequest CRD (tests/snapshots/crds/SOURCE); the sandbox serves and validates them as it would
any CRD, and its simulated cluster plays the snapshot controller and Velero (sandbox/controllers/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
HERE = Path(__file__).resolve().parent

DRIVER = "sandbox.aiop.dev/hostpath"  # the provisioner of the sandbox's default StorageClass `standard`


def _load(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert len(docs) == 1, path
    return docs[0]  # type: ignore[no-any-return]


def snapshot_crds() -> list[dict[str, Any]]:
    return [_load(p) for p in sorted((SHARED / "csi-snapshot").glob("*.yaml"))]


def velero_crds() -> list[dict[str, Any]]:
    return [_load(p) for p in sorted((SHARED / "velero").glob("*.yaml"))] + [
        _load(HERE / "crds" / "velero.io_deletebackuprequests.yaml")]


def snapshot_class(name: str = "csi-hostpath", driver: str = DRIVER, default: bool = True) -> dict[str, Any]:
    annotations = {"snapshot.storage.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": name, "annotations": annotations}, "driver": driver, "deletionPolicy": "Delete"}


def storage_location(available: bool = True, namespace: str = "velero") -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
             "metadata": {"name": "default", "namespace": namespace},
             "spec": {"provider": "aws", "default": True, "objectStorage": {"bucket": "velero-backups"}},
             "status": {"phase": "Available" if available else "Unavailable"}}]


def claim(name: str, namespace: str = "shop", size: str = "1Gi", storage_class: str = "standard") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "resources": {"requests": {"storage": size}}}}


def writer(name: str, claim_name: str, text: str, namespace: str = "shop") -> dict[str, Any]:
    """A Deployment whose pod writes `text` to /data/version on the claim at start, then runs."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                      "name": "app", "image": "busybox:1.36",
                                      "command": ["sh", "-c", f"test -f /data/version || echo {text} > /data/version; "
                                                              "sleep 36000"],
                                      "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                      "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}}}}


def database(name: str = "db", replicas: int = 2, image: str = "postgres:16", namespace: str = "shop",
             size: str = "1Gi") -> dict[str, Any]:
    """A StatefulSet with a claim template `data`: claims data-<name>-0..N-1, one per pod."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "db", "image": image,
                                                           "volumeMounts": [{"name": "data",
                                                                             "mountPath": "/var/lib/postgresql/data"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                                                        "resources": {"requests": {"storage": size}}}}]}}


def storage_rights(user: str, namespace: str = "shop") -> list[dict[str, Any]]:
    """What a person needs to restore data: claims, workloads, snapshots to read, Velero restores."""
    rules = [{"apiGroups": ["", "apps"], "resources": ["*"], "verbs": ["get", "list", "watch", "create", "update",
                                                                        "patch", "delete"]},
             {"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots"], "verbs": ["get", "list"]}]
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "storage-editor", "namespace": namespace}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "storage-editor", "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "storage-editor"},
             "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}]
