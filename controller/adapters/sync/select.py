"""Choose the sync engine: configured (`AIOP_SYNC_ENGINE`) or, with `auto`, from the installed CRDs.

Why detection by CRD: the chart is the same on every cluster; where Argo CD is installed its
Application kind is served, where Flux is, its Kustomization kind is. Argo CD wins when both are,
and direct apply is the fallback when neither is.
"""

from __future__ import annotations

from controller.adapters.kube import Kube, KubeError
from controller.adapters.sync.argocd import API_VERSION as ARGO_API
from controller.adapters.sync.argocd import ArgoCDSync
from controller.adapters.sync.direct import DirectSync
from controller.adapters.sync.flux import KUSTOMIZE, FluxSync
from controller.settings import SyncSettings

ENGINES = ("direct", "argocd", "flux", "auto")


def detect(kube: Kube) -> str:
    """'argocd', 'flux' or 'direct', from what the API server serves."""
    for engine, api_version, kind in (("argocd", ARGO_API, "Application"), ("flux", KUSTOMIZE, "Kustomization")):
        try:
            kube.resource(api_version, kind)
            return engine
        except KubeError:
            continue
    return "direct"


def make_engine(kube: Kube, settings: SyncSettings, field_manager: str) -> DirectSync | ArgoCDSync | FluxSync:
    if settings.engine not in ENGINES:
        raise ValueError(f"AIOP_SYNC_ENGINE={settings.engine!r}: expected one of {', '.join(ENGINES)}")
    engine = detect(kube) if settings.engine == "auto" else settings.engine
    if engine == "argocd":
        return ArgoCDSync(kube, settings.argocd_namespace, field_manager, settings.verify_timeout_s,
                          settings.poll_interval_s, settings.destination_server)
    if engine == "flux":
        return FluxSync(kube, settings.flux_namespace, field_manager, settings.verify_timeout_s,
                        settings.poll_interval_s, settings.destination_server, settings.flux_service_account,
                        settings.flux_secret_ref)
    return DirectSync(kube, field_manager, settings.verify_timeout_s)
