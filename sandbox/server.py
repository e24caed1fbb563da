"""SandboxServer: the sandbox API server on its own thread and event loop, as a context manager.

Why a thread: tests, `aiop up` and the operator's own code are synchronous or run their own loops
(kopf does); the sandbox owns one private asyncio loop, so every store mutation happens on it and
callers only talk HTTP (or use the few thread-safe methods here).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from sandbox import bootstrap, kubeconfig
from sandbox.admission import AdmissionHook
from sandbox.behaviour import Behaviour, load_behaviour
from sandbox.certs import CertFiles, ensure_certs
from sandbox.clock import SimClock
from sandbox.faults import FaultPlan, InjectedFault, load_plan
from sandbox.identity import ADMIN_USER, Identities
from sandbox.operations import SYSTEM_USER
from sandbox.resources import INITIAL_NAMESPACES
from sandbox.routes import Cluster, build_app
from sandbox.serviceaccounts import default_service_account
from sandbox.simulator import Simulator
from sandbox.store import Store
from sandbox.tokens import TokenSigner
from sandbox.vap import store_hook

T = TypeVar("T")
HOST = "127.0.0.1"


class SandboxServer:
    """A stateful Kubernetes API server on 127.0.0.1.

    >>> with SandboxServer(home=tmp_path) as sandbox:
    ...     kubectl("--kubeconfig", sandbox.kubeconfig_path, "get", "ns")
    """

    def __init__(
        self,
        port: int = 0,
        state_dir: Path | str | None = None,
        home: Path | str | None = None,
        *,
        simulate_workloads: bool = True,
        bookmark_interval: float = 5.0,
        history_limit: int = 1000,
        tls: bool = True,
        faults: FaultPlan | Path | str | dict[str, Any] | None = None,
        behaviour: Behaviour | Path | str | None = None,
        clock_speed: float = 1.0,
    ) -> None:
        self._requested_port = port
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.home = Path(home) if home is not None else Path.home() / ".aiop"
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        self.identities = Identities(self.state_dir)
        self.store = Store(self.state_dir, history_limit=history_limit)
        # The stored ValidatingAdmissionPolicies and bindings are enforced (in CEL) from the start,
        # whatever created them and across restarts, as a real API server enforces them.
        self.admission_hooks: list[AdmissionHook] = [store_hook(self.store)]
        pki = self.state_dir / "pki" if self.state_dir is not None else self.home / "sandbox" / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster(
            store=self.store,
            identities=self.identities,
            admission_hooks=self.admission_hooks,
            bookmark_interval=bookmark_interval,
            signer=TokenSigner(pki),
        )
        self.set_faults(faults)
        # The simulated cluster (nodes, scheduler, kubelets, controllers) lives in sandbox/simulator.py;
        # `behaviour` is its behaviour file (sandbox/behaviour.yaml when None), `clock_speed` its clock.
        self.simulator: Simulator | None = None
        if simulate_workloads:
            if not isinstance(behaviour, Behaviour):
                behaviour = load_behaviour(behaviour)
            self.simulator = Simulator(self.cluster.ops, behaviour, SimClock(clock_speed), self.state_dir)
            self.cluster.pod_logs = self.simulator.pod_log
            self.cluster.exec_command = self.simulator.exec
            self.cluster.ops.pod_grace = self.simulator.pod_grace
        self.tls = tls
        self.certs: CertFiles | None = None
        if tls:
            self.certs = ensure_certs(pki)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._thread is not None:
            return self
        self._seed()
        self._thread = threading.Thread(target=self._run, name="aiop-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._startup_error is not None:
            raise RuntimeError("sandbox server failed to start") from self._startup_error
        self.cluster.server_address = f"{HOST}:{self._port}"
        kubeconfig.write(self.kubeconfig_path, self.url, ADMIN_USER, self.admin_token, ca_pem=self.ca_pem)
        return self

    def _seed(self) -> None:
        rt = self.cluster.registry.lookup("", "v1", "namespaces")
        assert rt is not None
        for name in INITIAL_NAMESPACES:
            if not self.store.exists(("", "namespaces", "", name)):
                self.cluster.ops.create(rt, "", {"metadata": {"name": name}}, SYSTEM_USER)
        for namespace in self.store.objects("", "namespaces"):
            if not namespace["metadata"].get("deletionTimestamp"):
                default_service_account(self.cluster.ops, rt, namespace, None)
        bootstrap.seed(self.cluster.ops)
        if self.simulator is not None:
            self.simulator.seed()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _serve(self) -> None:
        self.cluster.shutdown = asyncio.Event()
        self._runner = web.AppRunner(build_app(self.cluster), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = self.certs.server_context() if self.certs is not None else None
        site = web.TCPSite(self._runner, HOST, self._requested_port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1]
        if self.simulator is not None:
            self.simulator.start(asyncio.get_running_loop())
        self._ready.set()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self.simulator is not None:
                self.simulator.stop()
            if self.cluster.shutdown is not None:
                self.cluster.shutdown.set()
            if self._runner is not None:
                await self._runner.cleanup()

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=15)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- identity ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self._port}"

    @property
    def ca_path(self) -> Path | None:
        """The CA certificate clients must trust (None when serving plain HTTP)."""
        return self.certs.ca_cert if self.certs is not None else None

    @property
    def ca_pem(self) -> bytes | None:
        return self.certs.ca_pem if self.certs is not None else None

    @property
    def admin_token(self) -> str:
        return self.identities.admin_token

    @property
    def kubeconfig_path(self) -> Path:
        return self.home / "sandbox" / "kubeconfig"

    def add_user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> str:
        """Create a user with a fresh bearer token (persisted in the state dir) and return the token."""
        return self.identities.add_user(name, tuple(groups))

    def user_kubeconfig(self, name: str) -> Path:
        """A kubeconfig for an added user (context `aiop-sandbox-<name>`); adds the user if needed."""
        token = self.identities.token_of(name) or self.add_user(name)
        path = self.home / "sandbox" / f"kubeconfig-{name.replace(':', '_')}"
        return kubeconfig.write(path, self.url, name, token, context=f"{kubeconfig.CONTEXT}-{name}",
                                ca_pem=self.ca_pem)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server loop (for direct store access from another thread) and return its result."""
        if self._loop is None:
            return fn()

        async def runner() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout=30)

    # -- faults -----------------------------------------------------------------------------------

    def set_faults(self, plan: FaultPlan | Path | str | dict[str, Any] | None, seed: int | None = None) -> None:
        """Inject faults from now on (a FaultPlan, a fault file, or its dict; None: stop). Thread-safe.

        The seeded draws restart and the fault log is cleared; `seed` overrides the plan's."""
        if plan is not None and not isinstance(plan, FaultPlan):
            plan = load_plan(plan, seed)
        elif plan is not None and seed is not None:
            plan = plan.model_copy(update={"seed": seed})
        self.cluster.faults.configure(plan)

    def fault_log(self) -> list[InjectedFault]:
        """The faults injected since the plan was set (kind, verb, resource, subresource, user, code)."""
        return self.cluster.faults.log()

    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were injected since the plan was set."""
        return self.cluster.faults.counts()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, state_dir={self.state_dir!r})"
