"""Grounding: turn the words of a request into objects that exist in the live cluster.

Why: a plan must name real objects, and a wrong guess is worse than a question. Names are matched
against what the `ClusterReader` lists (exact word, "web app"/"web pods", a pod name resolved to its
owner, a unique partial name); anything ambiguous or missing becomes a `Found` with candidates and
no target, which the planner turns into a clarifying question.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.planning.offline import extract
from controller.planning.types import ClusterReader

WORKLOAD_KINDS: tuple[tuple[str, str], ...] = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"))
_POD_SUFFIX = re.compile(r"^(?P<base>[a-z0-9][a-z0-9-]*?)-(?:[a-z0-9]{6,10}-[a-z0-9]{5}|[a-z0-9]{4,10}-[a-z0-9]{4,5}|\d+)$")
_NAME_SLOT = re.compile(
    r"\b(?:scale|restart|bounce|recycle|rollback|roll back|revert|expose|label|annotate|protect|autoscale|"
    r"upgrade|update|redeploy|of|for|on|the)\s+(?:the\s+)?([a-z0-9][a-z0-9-]*[a-z0-9])\b"
)
_BEFORE_KIND = re.compile(
    r"\b([a-z0-9][a-z0-9-]*[a-z0-9])\s+(?:deployment|deploy|statefulset|sts|app|application|pods?|service|"
    r"workload|containers?|config ?map|configmap|secret)\b"
)


@dataclass(frozen=True)
class Ref:
    """One object of the cluster."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    obj: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Found:
    """The object a request names, or why it could not be chosen (`candidates` to ask about)."""

    ref: Ref | None
    candidates: tuple[Ref, ...] = ()
    asked: str | None = None
    note: str = ""
    reason: str = ""

    def question(self, what: str, namespace: str) -> str:
        if self.candidates:
            names = ", ".join(sorted({c.label if c.namespace != namespace else c.name for c in self.candidates}))
            if self.reason == "ambiguous":
                return f"Which {what} do you mean: {names}?"
            if self.reason == "other-namespace":
                return (f"There is no {what} named {self.asked!r} in namespace {namespace}; it exists as {names}. "
                        f"Which one do you mean (say the namespace)?")
            missing = f"I could not find a {what} named {self.asked!r} in namespace {namespace}. " if self.asked else ""
            return f"{missing}Which {what} do you mean: {names}?"
        if self.asked:
            return f"I could not find a {what} named {self.asked!r} in namespace {namespace}, and it has none I could offer."
        return f"Which {what} do you mean? I found none in namespace {namespace}."


@dataclass(frozen=True)
class NamespaceChoice:
    name: str
    source: str  # "text", "plan", "preference", "conversation"


class Grounder:
    """Resolves names against the cluster; memoises list calls for the duration of one request."""

    def __init__(self, cluster: ClusterReader) -> None:
        self.cluster = cluster
        self._lists: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
        self._preferred: tuple[str, str] | None = None

    # -- reading ---------------------------------------------------------------------------

    def objects(self, api_version: str, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        key = (api_version, kind, namespace)
        if key not in self._lists:
            try:
                self._lists[key] = list(self.cluster.list(api_version, kind, namespace))
            except Exception:  # a reader without rights on a kind: treat as empty, the plan stays safe
                self._lists[key] = []
        return self._lists[key]

    def selected(self, api_version: str, kind: str, namespace: str | None, selector: str) -> list[dict[str, Any]]:
        try:
            return list(self.cluster.list(api_version, kind, namespace, label_selector=selector))
        except Exception:  # no right to list: nothing to show
            return []

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            return self.cluster.get(api_version, kind, name, namespace)
        except Exception:
            return None

    def events(self, namespace: str, involved_name: str | None) -> list[dict[str, Any]]:
        try:
            return list(self.cluster.events(namespace, involved_name))
        except Exception:
            return []

    def refs(self, kinds: Iterable[tuple[str, str]], namespace: str | None) -> list[Ref]:
        out = []
        for api, kind in kinds:
            for obj in self.objects(api, kind, namespace):
                meta = obj.get("metadata", {})
                out.append(Ref(api, kind, str(meta.get("name", "")), meta.get("namespace"), obj))
        return out

    def namespaces(self) -> list[str]:
        names = [str(o.get("metadata", {}).get("name")) for o in self.objects("v1", "Namespace", None)]
        for api, kind in WORKLOAD_KINDS:
            names.extend(str(o.get("metadata", {}).get("namespace")) for o in self.objects(api, kind, None))
        return [n for n in dict.fromkeys(names) if n and n != "None"]

    # -- namespaces ------------------------------------------------------------------------

    def namespace_in(self, text: str) -> str | None:
        """The namespace a text names: explicit ("namespace x", "-n x") first, else "in x" if x exists."""
        known = set(self.namespaces())
        explicit, loose = extract.namespace_mentions(text)
        for name in explicit:
            if name in known:
                return name
        for name in loose:
            if name in known:
                return name
        if explicit:
            return explicit[0]
        words = extract.tokens(text)
        if 0 < len(words) <= 4:  # a short answer to "which namespace?"
            for word in words:
                if word in known and not self._is_object_name(word):
                    return word
        return None

    def _is_object_name(self, word: str) -> bool:
        return any(r.name == word for r in self.refs(WORKLOAD_KINDS, None))

    def pick_namespace(self, texts: Sequence[str], default: str, seed: str | None = None,
                       preference: str | None = None) -> NamespaceChoice:
        for text in texts:
            found = self.namespace_in(text)
            if found:
                return NamespaceChoice(found, "text")
        if seed:
            return NamespaceChoice(seed, "plan")
        if preference:
            return NamespaceChoice(preference, "preference")
        return NamespaceChoice(default, "conversation")

    # -- objects ---------------------------------------------------------------------------

    def find(self, texts: Sequence[str], namespace: str, kinds: Sequence[tuple[str, str]] = WORKLOAD_KINDS,
             explicit_namespace: bool = False, seed_name: str | None = None,
             exclude: Iterable[str] = ()) -> Found:
        """The object of `kinds` the texts name (newest text first), else a Found with candidates."""
        excluded = set(exclude)
        self._preferred = _preferred_kind(texts, kinds)
        local = [r for r in self.refs(kinds, namespace) if r.name not in excluded]
        asked: str | None = None
        for text in texts:
            found = self._find_in_text(text, namespace, kinds, local, excluded)
            if found.ref or found.candidates:
                return found
            asked = asked or found.asked
        if seed_name:
            for ref in local:
                if ref.name == seed_name:
                    return Found(ref, note="from the previous plan")
        if asked:
            elsewhere = [r for r in self.refs(kinds, None) if r.name == asked and r.namespace != namespace]
            if elsewhere:
                return Found(None, tuple(elsewhere), asked, reason="other-namespace")
            close = difflib.get_close_matches(asked, [r.name for r in local], n=5, cutoff=0.5)
            near = [r for r in local if r.name in close or _shares_part(asked, r.name)]
            return Found(None, tuple(near or local[:8]), asked, reason="missing")
        return Found(None, tuple(local[:8]), None, reason="unnamed")

    def _find_in_text(self, text: str, namespace: str, kinds: Sequence[tuple[str, str]], local: list[Ref],
                      excluded: set[str]) -> Found:
        words = extract.tokens(extract.strip_values(text))
        # "web app" / "checkout api" may name "web-app" / "checkout-api"
        phrases = words + [f"{a}-{b}" for a, b in itertools.pairwise(words)]
        by_name: dict[str, list[Ref]] = {}
        for ref in local:
            by_name.setdefault(ref.name, []).append(ref)
        exact = [p for p in phrases if p in by_name]
        exact = sorted(set(exact), key=lambda p: (-len(p), phrases.index(p)))
        # a longer hyphenated match ("web-config") hides its parts ("web")
        exact = [p for p in exact if not any(p != q and p in q.split("-") and q in exact for q in exact)]
        if len(exact) == 1:
            refs = by_name[exact[0]]
            if len(refs) > 1 and self._preferred:
                refs = [r for r in refs if (r.api_version, r.kind) == self._preferred] or refs
            if len(refs) == 1:
                return Found(refs[0])
            return Found(None, tuple(refs), exact[0], reason="ambiguous")
        if len(exact) > 1:
            ordered = sorted(exact, key=phrases.index)
            return Found(None, tuple(by_name[p][0] for p in ordered), ordered[0], reason="ambiguous")
        # a pod name: resolve to its owner
        for word in words:
            owner = self.owner_of_pod(word, namespace, kinds)
            if owner is not None and owner.name not in excluded:
                return Found(owner, note=f"owner of pod {word}")
        # a unique partial name ("checkout" for "checkout-api")
        names = [r.name for r in local]
        for word in extract.name_tokens(text):
            if len(word) < 3 or word in self.namespaces():
                continue
            partial = [n for n in names if word in n.split("-") or (n.startswith(word) and len(word) >= 4)]
            if len(partial) == 1:
                return Found(by_name[partial[0]][0], note=f"{word!r} matched {partial[0]}")
            if len(partial) > 1:
                return Found(None, tuple(by_name[n][0] for n in partial), word, reason="ambiguous")
        return Found(None, asked=self._asked_name(text))

    def _asked_name(self, text: str) -> str | None:
        low = extract.strip_values(extract.normalise(text)).lower()
        namespaces = set(self.namespaces())
        for pattern in (_BEFORE_KIND, _NAME_SLOT):
            for m in pattern.finditer(low):
                word = m.group(1)
                if word not in extract.STOPWORDS and word not in namespaces and not word.isdigit() \
                        and word not in extract.WORD_NUMBERS:
                    return word
        return None

    def owner_of_pod(self, pod_name: str, namespace: str,
                     kinds: Sequence[tuple[str, str]] = WORKLOAD_KINDS) -> Ref | None:
        """The workload that owns a pod (owner references, then labels, then the name's prefix)."""
        listed = self.objects("v1", "Pod", namespace)  # one list call, not a GET per word of the request
        pod = next((p for p in listed if (p.get("metadata") or {}).get("name") == pod_name), None)
        local = self.refs(kinds, namespace)
        by_name = {r.name: r for r in local}
        if pod:
            for owner in pod.get("metadata", {}).get("ownerReferences") or []:
                name = str(owner.get("name", ""))
                if owner.get("kind") == "ReplicaSet":
                    name = name.rsplit("-", 1)[0]
                if name in by_name:
                    return by_name[name]
            labels = pod.get("metadata", {}).get("labels") or {}
            for key in ("app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "k8s-app", "name"):
                if labels.get(key) in by_name:
                    return by_name[labels[key]]
            for ref in local:
                selector = (ref.obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
                if selector and all(labels.get(k) == v for k, v in selector.items()):
                    return ref
        m = _POD_SUFFIX.match(pod_name)
        if m and m.group("base") in by_name and (pod or any(c.isdigit() for c in pod_name)):
            return by_name[m.group("base")]
        return None

    def pods_of(self, ref: Ref) -> list[dict[str, Any]]:
        """Pods of a workload: by its selector, else app=<name>, else by name prefix."""
        namespace = ref.namespace
        selector = (ref.obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        pods: list[dict[str, Any]] = []
        if selector:
            sel = ",".join(f"{k}={v}" for k, v in selector.items())
            pods = self.selected("v1", "Pod", namespace, sel)
        if not pods:
            pods = self.selected("v1", "Pod", namespace, f"app={ref.name}")
        if not pods:
            pods = [p for p in self.objects("v1", "Pod", namespace)
                    if str(p.get("metadata", {}).get("name", "")).startswith(ref.name + "-")]
        return pods


def _preferred_kind(texts: Sequence[str], kinds: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The kind the text names ("the postgres statefulset"): it settles a name that several kinds share."""
    for text in texts:
        mentioned = [k for k in extract.kind_mentions(text) if k in kinds]
        if mentioned:
            return mentioned[0]
    return None


def _shares_part(asked: str, name: str) -> bool:
    parts = set(asked.split("-")) - {""}
    return bool(parts & set(name.split("-")))
