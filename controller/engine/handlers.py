"""The kopf handlers: thin glue from kopf's causes to `reconcile`.

kopf gives us watching, per-object serialization, retries with backoff and resume after restart.
Everything else is ours: each handler just calls `reconcile` with the object's body. The services
travel in kopf's per-operator `memo`, so several operators in one process (tests, evals) never
share state. Progress is kept in annotations (not status: our status schema is owned by the engine).
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from controller.adapters.kube import Unreachable
from controller.api.constants import GROUP, PLURAL_CONVERSATION, PLURAL_REQUEST, VERSION
from controller.engine.reconcile import Services, reconcile
from controller.settings import Settings

log = logging.getLogger("aiop.handlers")
FOLLOW_INTERVAL_S = 60.0


def make_memo(settings: Settings, services: Services) -> kopf.Memo:
    """What every handler of one operator instance sees as `memo`."""
    return kopf.Memo(settings=settings, services=services)


@kopf.on.startup()
def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="aiop.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="aiop.dev", key="last-handled")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 60
    settings.execution.max_workers = 8


@kopf.on.login()
def _login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """The same credentials as the engine's client (kubeconfig from the settings, or in-cluster)."""
    services: Services = memo.services
    conf = services.kube.api_client.configuration
    auth = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken") or ""
    scheme, _sep, token = auth.partition(" ")
    return kopf.ConnectionInfo(
        server=conf.host, scheme=scheme or None, token=token or None, insecure=not conf.verify_ssl,
        ca_path=conf.ssl_ca_cert, certificate_path=conf.cert_file, private_key_path=conf.key_file,
        default_namespace=None)


for _plural in (PLURAL_CONVERSATION, PLURAL_REQUEST):

    @kopf.on.resume(GROUP, VERSION, _plural)
    @kopf.on.create(GROUP, VERSION, _plural)
    @kopf.on.update(GROUP, VERSION, _plural, field="spec")
    def _reconcile(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        try:
            reconcile(memo.services, dict(body))
        except Unreachable as exc:
            raise kopf.TemporaryError(str(exc), delay=5) from exc

    @kopf.timer(GROUP, VERSION, _plural, interval=FOLLOW_INTERVAL_S, initial_delay=FOLLOW_INTERVAL_S,
                when=lambda status, **_: (status or {}).get("phase") == "Completed")
    def _follow(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """Completed threads: follow their pull requests' review and merge state back into the thread."""
        try:
            reconcile(memo.services, dict(body))
        except Unreachable as exc:
            raise kopf.TemporaryError(str(exc), delay=30) from exc
