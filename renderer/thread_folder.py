"""An approved plan as files under `threads/<thread-id>/`: what git records and Argo CD/Flux syncs.

Why these files: principle 5 (git is the record). A person who has never seen the operator must be
able to open the folder and understand what was asked, what was changed, how to check it and how to
undo it with kubectl alone (`instructions.md`); tools read the same facts from `plan.yaml` and
`restore.yaml`; the sync engine applies `kustomization.yaml`, which lists the manifests in plan order.

Why plain data in, strings out: the renderer knows nothing of the controller (it takes a frozen
dataclass of dicts and strings) and does no I/O, so the same input gives the same bytes, and a
commit for a plan digest is made once (the committer compares trees).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renderer.diff import strip_server_fields
from renderer.yaml_out import dump_yaml

THREADS_DIR = "threads"
SAFE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ThreadRender:
    """Everything the folder shows, as plain data.

    actions: dicts with id, action, title, params, risk, mutating, permissions (strings), backup,
      restore, verify, diff (and optionally notes).
    manifests: (filename stem, object) in plan order; an empty stem is derived (`NN-kind-name`).
    backups: live objects before the change. created: refs ({apiVersion, kind, namespace, name}) to
      delete on restore, in creation order. deletes: refs the plan deletes.
    """

    thread_id: str
    revision: int
    digest: str
    request: Sequence[str]
    summary: str
    answer: str = ""
    actions: Sequence[Mapping[str, Any]] = ()
    manifests: Sequence[tuple[str, Mapping[str, Any]]] = ()
    backups: Sequence[Mapping[str, Any]] = ()
    created: Sequence[Mapping[str, str]] = ()
    deletes: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    requester: str = ""
    approver: str = ""
    created_at: str = ""


def manifest_stem(position: int, obj: Mapping[str, Any]) -> str:
    """`01-deployment-web` for the first manifest (1-based position in plan order)."""
    name = str((obj.get("metadata") or {}).get("name", "unnamed"))
    return f"{position:02d}-{str(obj.get('kind', 'object')).lower()}-{name}"


def backup_filename(obj: Mapping[str, Any]) -> str:
    """`deployment-shop-web.yaml`; cluster-scoped objects have no namespace part."""
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind", "object")).lower(), str(meta.get("namespace") or ""), str(meta.get("name", ""))]
    return "-".join(p for p in parts if p) + ".yaml"


def _ref(obj: Mapping[str, Any]) -> dict[str, str]:
    if "metadata" in obj:
        meta = obj.get("metadata") or {}
        out = {"apiVersion": str(obj.get("apiVersion", "")), "kind": str(obj.get("kind", "")),
               "namespace": str(meta.get("namespace") or ""), "name": str(meta.get("name", ""))}
    else:
        out = {k: str(obj.get(k) or "") for k in ("apiVersion", "kind", "namespace", "name")}
    return {k: v for k, v in out.items() if v}


def _kubectl_ref(ref: Mapping[str, str]) -> str:
    group = ref.get("apiVersion", "").rpartition("/")[0]
    kind = ref.get("kind", "").lower() + (f".{group}" if group else "")
    ns = f" -n {ref['namespace']}" if ref.get("namespace") else ""
    return f"{kind}/{ref.get('name', '')}{ns}"


def _describe(ref: Mapping[str, str]) -> str:
    where = f"{ref['namespace']}/" if ref.get("namespace") else ""
    return f"{ref.get('kind', '')} {where}{ref.get('name', '')}"


def _manifest_files(thread: ThreadRender) -> list[tuple[str, Mapping[str, Any]]]:
    files: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for position, (stem, obj) in enumerate(thread.manifests, start=1):
        stem = stem or manifest_stem(position, obj)
        if not SAFE_STEM.match(stem) or ".." in stem:
            raise ValueError(f"unsafe manifest file name {stem!r}")
        if stem in seen:
            raise ValueError(f"two manifests named {stem!r}")
        seen.add(stem)
        files.append((f"manifests/{stem}.yaml", obj))
    return files


def _plan(thread: ThreadRender, manifest_files: list[str]) -> dict[str, Any]:
    return {
        "threadId": thread.thread_id,
        "revision": thread.revision,
        "digest": thread.digest,
        "createdAt": thread.created_at,
        "requester": thread.requester,
        "approver": thread.approver,
        "request": list(thread.request),
        "summary": thread.summary,
        "answer": thread.answer,
        "actions": [
            {k: a[k] for k in ("id", "action", "title", "risk", "mutating", "params", "permissions",
                               "backup", "restore", "verify") if k in a}
            for a in thread.actions
        ],
        "manifests": manifest_files,
        "deletes": [_ref(r) for r in thread.deletes],
    }


def _restore(thread: ThreadRender, backup_files: list[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    return {
        "threadId": thread.thread_id,
        "revision": thread.revision,
        "digest": thread.digest,
        "reapply": [{"file": path, **_ref(obj)} for path, obj in backup_files],
        # Newest first: a quota goes before its namespace.
        "delete": [_ref(r) for r in reversed(thread.created)],
    }


def _code(text: str, lang: str = "") -> list[str]:
    fence = "~~~~" if "```" in text else "```"
    return [f"{fence}{lang}", text.rstrip("\n"), fence]


def _instructions(thread: ThreadRender, manifest_files: list[str],
                  backup_files: list[tuple[str, Mapping[str, Any]]]) -> str:
    folder = f"{THREADS_DIR}/{thread.thread_id}"
    out: list[str] = [f"# Thread {thread.thread_id}, plan revision {thread.revision}", ""]
    out += [f"- Plan digest: `{thread.digest}`"]
    if thread.requester:
        out.append(f"- Requested by: {thread.requester}")
    if thread.approver:
        out.append(f"- Approved by: {thread.approver}")
    if thread.created_at:
        out.append(f"- Created: {thread.created_at}")
    out += ["", "## What was asked", ""]
    for turn in thread.request:
        out += ["> " + line if line else ">" for line in turn.splitlines()] + [""]
    out += ["## The plan", "", thread.summary, ""]
    if thread.answer:
        out += [thread.answer, ""]
    for a in thread.actions:
        out += [f"### {a.get('id', '')}. {a.get('title', '')}", ""]
        out.append(f"- Action: `{a.get('action', '')}`; risk: **{a.get('risk', '')}**; "
                   f"{'changes the cluster' if a.get('mutating', True) else 'read-only'}")
        perms = list(a.get("permissions") or [])
        if perms:
            out.append("- Permissions needed (as the requester):")
            out += [f"  - {p}" for p in perms]
        for key, label in (("backup", "Backup"), ("verify", "Verify"), ("restore", "Restore")):
            if a.get(key):
                out.append(f"- {label}: {a[key]}")
        for note in a.get("notes") or []:
            out.append(f"- Note: {note}")
        if a.get("diff"):
            out += ["", *_code(str(a["diff"]), "diff")]
        out.append("")
    out += ["## Apply by hand", "",
            "The sync engine (Argo CD or Flux) applies this folder. Without it, as the requester:", ""]
    apply_cmds = [f"kubectl apply --server-side -k {folder}"] if manifest_files else []
    apply_cmds += [f"kubectl delete {_kubectl_ref(_ref(r))}" for r in thread.deletes]
    out += [*_code("\n".join(apply_cmds) or "# nothing to apply", "sh"), ""]
    out += ["## How to verify", ""]
    verifies = [str(a["verify"]) for a in thread.actions if a.get("verify")]
    out += [f"- {v}" for v in verifies] or ["- Nothing to verify."]
    refs = [_ref(obj) for _, obj in _manifest_files(thread)]
    if refs:
        out += ["", *_code("\n".join(f"kubectl get {_kubectl_ref(r)} -o yaml" for r in refs), "sh")]
    out += ["", "## How to restore", ""]
    out += ["1. Revert the thread commit on the thread branch (`git revert <commit>`; never force-push)."]
    step = 2
    if backup_files:
        out += ["", f"{step}. Re-apply the saved objects from `backup/` (the state before the change):"]
        out += ["", *_code("\n".join(f"kubectl apply --server-side --force-conflicts -f {folder}/{path}"
                                      for path, _ in backup_files), "sh")]
        step += 1
    if thread.created:
        out += ["", f"{step}. Delete what this plan created (newest first):"]
        out += ["", *_code("\n".join(f"kubectl delete {_kubectl_ref(_ref(r))}" for r in reversed(thread.created)),
                           "sh")]
    out += ["", "`restore.yaml` lists the same steps for the operator's restore button."]
    return "\n".join(out).rstrip("\n") + "\n"


def render_thread_folder(thread: ThreadRender) -> dict[str, str]:
    """Relative path -> file content for `threads/<id>/`; byte-for-byte the same for the same input."""
    if not SAFE_STEM.match(thread.thread_id):
        raise ValueError(f"unsafe thread id {thread.thread_id!r}")
    root = f"{THREADS_DIR}/{thread.thread_id}"
    files: dict[str, str] = {}
    manifests = _manifest_files(thread)
    for path, obj in manifests:
        files[f"{root}/{path}"] = dump_yaml(obj)
    backup_files: list[tuple[str, Mapping[str, Any]]] = []
    for obj in thread.backups:
        path = f"backup/{backup_filename(obj)}"
        if f"{root}/{path}" in files:
            continue  # the same object backed up by two steps: the first (oldest) state wins
        cleaned = strip_server_fields(dict(obj))
        files[f"{root}/{path}"] = dump_yaml(cleaned)
        backup_files.append((path, cleaned))
    manifest_paths = [p for p, _ in manifests]
    files[f"{root}/kustomization.yaml"] = dump_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": manifest_paths,
    })
    files[f"{root}/plan.yaml"] = dump_yaml(_plan(thread, manifest_paths))
    files[f"{root}/restore.yaml"] = dump_yaml(_restore(thread, backup_files))
    files[f"{root}/instructions.md"] = _instructions(thread, manifest_paths, backup_files)
    return dict(sorted(files.items()))
