"""Metrics, structured logs and admin alerts: how people outside the thread learn what happened.

Prometheus counters and histograms are module-level (one registry per process, as
prometheus_client expects). Logs are one JSON object per line. Alerts go three ways at once:
a Warning Event on the conversation (so `kubectl describe` and `kubectl get events` show it),
a Slack-compatible webhook when one is configured, and the `aiop_alerts_total` counter.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import Counter, Histogram, start_http_server

from controller.adapters.kube import Kube, KubeError

THREAD_TRANSITIONS = Counter("aiop_thread_transitions_total", "Phase transitions of threads", ["phase"])
EFFECTS = Counter("aiop_effects_total", "Effects executed", ["effect", "outcome"])
EFFECT_SECONDS = Histogram("aiop_effect_seconds", "Time spent per effect", ["effect"],
                           buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
ALERTS = Counter("aiop_alerts_total", "Admin alerts raised", ["reason"])
PLANS = Counter("aiop_plans_total", "Plan revisions proposed", ["kind"])

log = logging.getLogger("aiop")


# kopf's per-object loggers add these to every record: its whole OperatorSettings (~2 KB), a flag
# for its event poster, and the object reference (which we log as `object` + `namespace`).
KOPF_RECORD_KEYS = frozenset({"settings", "k8s_skip", "k8s_ref"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what happened, to which object, with the caller's `extra` fields."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            entry.update({"kind": ref.get("kind"), "object": ref.get("name"), "namespace": ref.get("namespace")})
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and key not in KOPF_RECORD_KEYS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "kubernetes", "git", "httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve_metrics(port: int, address: str = "127.0.0.1") -> None:
    """Expose /metrics on `address` (127.0.0.1 unless configured; the chart binds 0.0.0.0). 0 disables."""
    if port:
        start_http_server(port, addr=address)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Alerts:
    """Raise an alert for admins, about one conversation object."""

    def __init__(self, kube: Kube, webhook_url: str = "", events: bool = True) -> None:
        self.kube = kube
        self.webhook_url = webhook_url
        self.events = events

    def raise_alert(self, involved: dict[str, Any], reason: str, message: str) -> None:
        ALERTS.labels(reason=reason).inc()
        meta = involved.get("metadata", {})
        log.warning("alert", extra={"reason": reason, "alert": message, "object": meta.get("name"),
                                    "namespace": meta.get("namespace")})
        if self.events:
            self.event(involved, reason, message, "Warning", alert=True)
        if self.webhook_url:
            self._webhook(meta, reason, message)

    def event(self, involved: dict[str, Any], reason: str, message: str, type_: str = "Normal",
              alert: bool = False) -> None:
        meta = involved.get("metadata", {})
        stamp = now_rfc3339()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'aiop')}.", "namespace": meta.get("namespace"),
                         "labels": {"aiop.dev/alert": "true"} if alert else {}},
            "involvedObject": {"apiVersion": involved.get("apiVersion"), "kind": involved.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")},
            "reason": reason, "message": message[:1000], "type": type_,
            "source": {"component": "ai-operator"}, "reportingComponent": "ai-operator",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        try:
            self.kube.create(event)
        except KubeError as exc:
            log.error("cannot post event", extra={"reason": reason, "error": exc.message})

    def _webhook(self, meta: dict[str, Any], reason: str, message: str) -> None:
        text = f":rotating_light: ai-operator {reason} in {meta.get('namespace')}/{meta.get('name')}: {message}"
        payload = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
        for attempt in range(3):
            try:
                response = httpx.post(self.webhook_url, json=payload, timeout=5.0)
                if response.status_code < 500:
                    return
            except httpx.HTTPError as exc:
                log.error("alert webhook failed", extra={"error": str(exc), "attempt": attempt})
            time.sleep(0.2 * (attempt + 1))
