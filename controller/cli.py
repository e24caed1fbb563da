"""The `aiop` command line: the public face over the operator, the sandbox and the tools.

Commands stay thin: they parse flags into settings and call the engine or a tool. Everything a
command changes in a cluster it changes through custom resources, as the user it names.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from controller.settings import Settings, SettingsError, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="ai-operator: chat threads to repo commits.")
chat_app = typer.Typer(no_args_is_help=True, help="Talk to the operator as a user (through impersonation).")
app.add_typer(chat_app, name="chat")

HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (default $AIOP_HOME or ~/.aiop).")]
KubeconfigOpt = Annotated[str | None, typer.Option("--kubeconfig", help="Use this cluster instead of the sandbox.")]
BackendsOpt = Annotated[Path | None, typer.Option("--backends", help="AI backends file (default $AIOP_BACKENDS; "
                                                               "none: the offline planner).")]
BehaviourOpt = Annotated[Path | None, typer.Option("--behaviour", help="How the sandbox's simulated cluster behaves "
                                                                 "(README: the behaviour file).")]


def _settings(home: Path | None = None, kubeconfig: str | None = None, backends: Path | None = None) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc), 2)
    if home is not None:
        settings = settings.with_home(home.expanduser().resolve())
    if kubeconfig:
        settings = settings.with_kubeconfig(kubeconfig)
    if backends is not None:
        settings = settings.with_backends_file(str(backends.expanduser().resolve()))
    return settings


def _behaviour(path: Path | None) -> Any:
    """The behaviour file's contents, or a stop before anything starts naming the file and the field."""
    if path is None:
        return None
    from sandbox.behaviour import BehaviourError, load_behaviour

    try:
        return load_behaviour(path.expanduser())
    except BehaviourError as exc:
        _fail(str(exc), 2)


def _check_backends(settings: Settings) -> None:
    """Fail at start-up, naming the field, when the backends file is wrong."""
    if not settings.planning.backends_file:
        return
    from controller.backends.config import load_config
    from controller.backends.errors import ConfigError

    try:
        load_config(settings.planning.backends_file)
    except ConfigError as exc:
        _fail(str(exc), 2)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@app.command()
def sandbox(port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 6443,
            state: Annotated[Path | None, typer.Option("--state", help="Keep objects here across restarts.")] = None,
            home: HomeOpt = None,
            faults: Annotated[Path | None, typer.Option("--faults", help="Inject faults from this file "
                                                        "(README: the sandbox's fault file).")] = None,
            seed: Annotated[int | None, typer.Option("--seed", help="Seed of the fault draws "
                                                     "(overrides the file's).")] = None,
            behaviour: BehaviourOpt = None) -> None:
    """Run the sandbox Kubernetes API server in the foreground."""
    from sandbox.faults import FaultPlanError
    from sandbox.main import run

    settings = _settings(home)
    cluster = _behaviour(behaviour)
    try:
        run(port=port, state_dir=state, home=settings.home, faults=faults, seed=seed, behaviour=cluster)
    except FaultPlanError as exc:
        _fail(str(exc), 2)


@app.command()
def crds() -> None:
    """Print the CustomResourceDefinitions of aiop.dev (generated from the API models)."""
    import yaml

    from controller.api.crds import all_crds

    typer.echo(yaml.safe_dump_all(all_crds(), sort_keys=False))


@app.command()
def controller(kubeconfig: KubeconfigOpt = None, home: HomeOpt = None, backends: BackendsOpt = None) -> None:
    """Run the operator against a kubeconfig (or the in-cluster service account).

    Serves /healthz and /readyz on AIOP_HEALTH_PORT and /metrics on AIOP_METRICS_PORT (bound to
    AIOP_BIND_ADDRESS); with AIOP_LEADER_ELECTION it waits as a standby until it holds the Lease.
    """
    from controller.adapters.telemetry import serve_metrics, setup_logging
    from controller.engine.runner import LeadershipLost, run_operator, warm_up
    from controller.engine.services import build_services
    from controller.serve.health import Health, serve_health

    settings = _settings(home, kubeconfig, backends)
    _check_backends(settings)
    setup_logging(settings.serve.log_format, settings.serve.log_level)
    health = Health()
    health.beat()
    serve_health(health, settings.serve.health_port, settings.serve.bind_address)
    serve_metrics(settings.serve.metrics_port, settings.serve.bind_address)
    warm_up(health)  # the model loads while the services are built and kopf starts; /readyz waits for it
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_operator(settings, build_services(settings), stop=stop, health=health)
    except LeadershipLost as exc:
        _fail(f"{exc}; exiting so the pod restarts as a standby")


@app.command()
def doctor(kubeconfig: KubeconfigOpt = None, home: HomeOpt = None, backends: BackendsOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="One JSON object per check.")] = False) -> None:
    """Preflight a cluster: API version, CRDs, admission policy, rights, repo, sync engine, cloud, DB, AI."""
    from controller.adapters.kube import Kube, load_api_client
    from controller.tools.doctor import run_checks

    settings = _settings(home, kubeconfig, backends)
    try:
        kube = Kube(load_api_client(settings.kube.kubeconfig, settings.kube.context))
    except Exception as exc:  # no kubeconfig and not in a pod
        _fail(f"cannot configure a Kubernetes client: {exc}")
    results = run_checks(kube, settings)
    for result in results:
        if as_json:
            typer.echo(json.dumps(result.__dict__))
        else:
            typer.secho(result.line(), fg=typer.colors.GREEN if result.ok else typer.colors.RED)
    failed = sum(not r.ok for r in results)
    if not as_json:
        typer.echo(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def up(api_port: Annotated[int, typer.Option(help="Port of the sandbox API server.")] = 6443,
       ui_port: Annotated[int, typer.Option(help="Port of the chat UI.")] = 8501,
       metrics_port: Annotated[int, typer.Option(help="Port of /metrics (0: off).")] = 9090,
       ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Serve the chat UI.")] = True,
       kubeconfig: KubeconfigOpt = None, home: HomeOpt = None, backends: BackendsOpt = None,
       behaviour: BehaviourOpt = None) -> None:
    """The product on embedded defaults: sandbox cluster + demo shop, the operator, the chat UI."""
    from controller.tools.up import run_up

    settings = _settings(home, kubeconfig, backends)
    _check_backends(settings)
    if behaviour is not None and settings.kube.kubeconfig:
        _fail("--behaviour describes the sandbox `aiop up` starts, and with a kubeconfig (--kubeconfig or "
              "AIOP_KUBECONFIG) it starts none", 2)
    run_up(settings, api_port=api_port, ui_port=ui_port if ui else 0, metrics_port=metrics_port,
           behaviour=_behaviour(behaviour))


@app.command()
def ui(port: Annotated[int | None, typer.Option(help="Port to serve on (default $AIOP_UI_PORT or 8501).")] = None,
       address: Annotated[str | None, typer.Option(help="Address to bind (default $AIOP_BIND_ADDRESS or 127.0.0.1; "
                                                       "the chart: 0.0.0.0 behind the auth proxy).")] = None,
       kubeconfig: KubeconfigOpt = None, home: HomeOpt = None) -> None:
    """Serve the chat UI alone (what the chart's UI Deployment runs); identity comes from the auth proxy."""
    import subprocess

    from controller.tools.up import ui_command, ui_environment

    settings = _settings(home, kubeconfig)
    command = ui_command(port or settings.serve.ui_port, address or settings.serve.bind_address)
    raise typer.Exit(subprocess.call(command, env=ui_environment(settings, sandbox=False)))


def _identity(user: str, groups: list[str]) -> Any:
    from controller.api.types import Identity

    return Identity(user=user, groups=groups)


def _client(home: Path | None, kubeconfig: str | None) -> Any:
    from controller.adapters.kube import Kube, load_api_client
    from controller.client import ConversationClient

    settings = _settings(home, kubeconfig)
    path = settings.kube.kubeconfig or str(settings.sandbox_kubeconfig)
    if not Path(path).exists():
        _fail(f"no kubeconfig at {path}: start `aiop up` first or pass --kubeconfig")
    return ConversationClient(Kube(load_api_client(path)))


UserOpt = Annotated[str, typer.Option("--as", help="The user you act as (impersonated).")]
GroupsOpt = Annotated[list[str] | None, typer.Option("--group", help="Groups of that user (repeatable).")]
NsOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the conversation.")]
WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the controller to answer.")]


def _show(obj: dict[str, Any], as_json: bool = False) -> None:
    if as_json:
        typer.echo(json.dumps(obj, indent=2))
        return
    from controller.tools.chat_view import render_thread

    typer.echo(render_thread(obj))


def _after(client: Any, namespace: str, name: str, wait: bool) -> None:
    obj = client.wait_settled(namespace, name) if wait else client.get(namespace, name)
    _show(obj)


@chat_app.command("say")
def chat_say(name: str, text: str, user: UserOpt = "demo@example.com", group: GroupsOpt = None,
             namespace: NsOpt = "shop", wait: WaitOpt = True, home: HomeOpt = None,
             kubeconfig: KubeconfigOpt = None) -> None:
    """Start a conversation NAME with TEXT, or add TEXT as its next message."""
    client = _client(home, kubeconfig)
    _run_chat(lambda: client.say(namespace, name, text, _identity(user, group or [])))
    _after(client, namespace, name, wait)


@chat_app.command("approve")
def chat_approve(name: str, revision: Annotated[int | None, typer.Option(help="Default: the latest.")] = None,
                 user: UserOpt = "demo@example.com", group: GroupsOpt = None, namespace: NsOpt = "shop",
                 wait: WaitOpt = True, home: HomeOpt = None, kubeconfig: KubeconfigOpt = None) -> None:
    """Approve a plan revision by its digest."""
    client = _client(home, kubeconfig)
    _run_chat(lambda: client.approve(namespace, name, _identity(user, group or []), revision))
    _after(client, namespace, name, wait)


@chat_app.command("rate")
def chat_rate(name: str, score: int, comment: Annotated[str, typer.Option()] = "",
              user: UserOpt = "demo@example.com", group: GroupsOpt = None, namespace: NsOpt = "shop",
              wait: WaitOpt = True, home: HomeOpt = None, kubeconfig: KubeconfigOpt = None) -> None:
    """Rate the result 0-100; 100 opens the pull request, less goes back to planning."""
    if not 0 <= score <= 100:
        _fail("the rating is a number from 0 to 100", 2)
    client = _client(home, kubeconfig)
    _run_chat(lambda: client.rate(namespace, name, _identity(user, group or []), score, comment))
    _after(client, namespace, name, wait)


@chat_app.command("restore")
def chat_restore(name: str, user: UserOpt = "demo@example.com", group: GroupsOpt = None, namespace: NsOpt = "shop",
                 wait: WaitOpt = True, home: HomeOpt = None, kubeconfig: KubeconfigOpt = None) -> None:
    """Bring everything back to the state before this conversation."""
    client = _client(home, kubeconfig)
    _run_chat(lambda: client.restore(namespace, name, _identity(user, group or [])))
    _after(client, namespace, name, wait)


@chat_app.command("show")
def chat_show(name: str, namespace: NsOpt = "shop", as_json: Annotated[bool, typer.Option("--json")] = False,
              home: HomeOpt = None, kubeconfig: KubeconfigOpt = None) -> None:
    """Show a conversation: messages, the current plan, conditions and links."""
    client = _client(home, kubeconfig)
    obj = client.get(namespace, name)
    if obj is None:
        _fail(f"there is no conversation {namespace}/{name}")
    _show(obj, as_json)


def _run_chat(call: Any) -> None:
    from controller.adapters.kube import KubeError
    from controller.client import ChatError

    try:
        call()
    except (KubeError, ChatError) as exc:
        _fail(str(exc))


@app.command()
def prs(home: HomeOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the pull requests on the local forge."""
    from controller.adapters.forge import LocalForge

    settings = _settings(home)
    if not settings.local_repo.exists():
        typer.echo("no local repo yet")
        return
    items = LocalForge(settings.local_repo).list()
    if as_json:
        typer.echo(json.dumps([{**p.__dict__, "reviewers": list(p.reviewers)} for p in items], indent=2))
        return
    for p in items:
        typer.echo(f"#{p.number}\t{p.state}\t{p.head} -> {p.base}\t{p.title}")


@app.command(name="eval")
def eval_(paths: list[Path],
          backend: Annotated[str | None, typer.Option(help="Plan with this backend of the backends file "
                                                           "(default: the file's roles, or offline).")] = None,
          json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON here.")] = None,
          parallel: Annotated[int, typer.Option(help="Scenarios run at once.")] = 1,
          backends: Annotated[Path | None, typer.Option("--backends", help="Backends file.")] = None,
          behaviour: BehaviourOpt = None) -> None:
    """Run scenario evals: PASS/FAIL per scenario, then `N passed, M failed`."""
    from controller.tools.evals import main as eval_main

    if backends is not None:
        backends = backends.expanduser().resolve()
        _check_backends(_settings(backends=backends))
    if behaviour is not None:
        _behaviour(behaviour)  # refused here, before any worker starts
        behaviour = behaviour.expanduser().resolve()
    code = eval_main(paths, backend=backend, json_out=json_out, parallel=parallel, backends_file=backends,
                     behaviour_file=behaviour)
    raise typer.Exit(code)


@app.command(name="eval-worker", hidden=True)
def eval_worker(backend: Annotated[str | None, typer.Option()] = None, behaviour: BehaviourOpt = None) -> None:
    """Run scenarios named on stdin (used by `aiop eval` for isolation and parallelism)."""
    from controller.tools.evals import worker

    worker(backend, _behaviour(behaviour))


def _knowledge_app() -> typer.Typer:
    from controller.tools.knowledge_cli import knowledge_app

    return knowledge_app


def _sync_command() -> Any:
    from controller.tools.knowledge_cli import sync_command

    return sync_command


app.add_typer(_knowledge_app(), name="knowledge")
app.command(name="sync")(_sync_command())


def main() -> None:
    threading.current_thread().name = "aiop"
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
