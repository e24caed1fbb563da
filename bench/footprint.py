"""The controller's footprint as a pod would see it (issue 11 §1), run on demand: `python -m bench.footprint`.

Measures, with the real `aiop controller` as a separate process against the sandbox API server:
- ready time: from starting the process to `/readyz` answering 200 (CRDs found, embedder loaded,
  leader with watches established — leader election on, as in the chart);
- the CPU seconds the process used until ready (start-up's cost whatever the load of the machine);
- RSS after ready (the embedding model loaded) and after one thread planned and applied (peak too).
`--embedder onnx --onnx-dir DIR` runs ONNX Runtime (the image's runtime; export with
`python -m controller.minilm DIR`), `--embedder sentence-transformers` runs torch. `--image NAME`
runs the process inside the image with `buildah run` (chroot isolation shares the host network,
so it reaches the sandbox on 127.0.0.1). Prints the figures with the load average; writes
bench/results/footprint-{image,onnx,sentence-transformers}.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from controller.adapters.kube import Kube, load_api_client
from controller.api.constants import Phase
from controller.api.types import Identity
from controller.client import ConversationClient
from controller.tools import bootstrap
from sandbox.server import SandboxServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) RSS of `pid` and its children (buildah run forks the process it starts), without
    buildah's own processes: in a pod the controller runs alone."""
    now = peak = 0.0
    for proc in [pid, *_children(pid)]:
        if _name(proc).startswith(("buildah", "memfd:buildah")):
            continue
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{proc}/status").read_text().splitlines()
                          if ":" in line)
        except FileNotFoundError:
            continue
        now += int(fields["VmRSS"].split()[0]) / 1024
        peak += int(fields["VmHWM"].split()[0]) / 1024
    return now, peak


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) `pid` and its children (not buildah's) used so far: what start-up costs
    whatever the load."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        if _name(proc).startswith(("buildah", "memfd:buildah")):
            continue
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


def _check_outcome(kube: Kube, thread: dict[str, Any]) -> None:
    """The thread ran end to end: applied and waiting for its rating, and the Deployment scaled for real."""
    status = thread.get("status") or {}
    web = kube.get("apps/v1", "Deployment", "web", "shop") or {}
    replicas = (web.get("spec") or {}).get("replicas")
    if status.get("phase") != Phase.AWAITING_RATING or replicas != 3:
        raise SystemExit(f"the thread did not run end to end: phase {status.get('phase')}, web has {replicas} "
                         f"replicas; conditions: {json.dumps(status.get('conditions'), indent=1)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="onnx", choices=["onnx", "sentence-transformers"])
    parser.add_argument("--onnx-dir", default="")
    parser.add_argument("--image", default="", help="run inside this image with buildah (as root)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aiop-footprint-"))
    home.chmod(0o777)
    with SandboxServer(port=0, home=home / "sandbox") as server:
        kube = Kube(load_api_client(str(server.kubeconfig_path)))
        bootstrap.install_crds(kube)
        bootstrap.install_demo(kube)
        port = _free_port()
        env = {"AIOP_HOME": str(home / "controller"), "AIOP_METRICS_PORT": "0", "AIOP_HEALTH_PORT": str(port),
               "AIOP_LEADER_ELECTION": "true", "AIOP_OPERATOR_NAMESPACE": "default", "AIOP_LOG_LEVEL": "WARNING",
               "AIOP_EMBEDDER": args.embedder, "AIOP_KUBECONFIG": str(server.kubeconfig_path)}
        if args.onnx_dir:
            env["AIOP_ONNX_MODEL_DIR"] = args.onnx_dir
        if args.image:
            env.pop("AIOP_EMBEDDER")  # the image's own defaults: ONNX from the exported model
            for folder in server.kubeconfig_path.parents:  # the image's user (65532) reads the kubeconfig
                if folder == home.parent:
                    break
                folder.chmod(0o777 if folder == home else 0o755)
            server.kubeconfig_path.chmod(0o644)
            container = subprocess.run(["buildah", "--storage-driver", "vfs", "from", args.image],
                                       capture_output=True, text=True, check=True).stdout.strip()
            command = ["buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot", "--user", "65532:65532",
                       "-v", f"{home}:{home}", *[f"--env={k}={v}" for k, v in env.items()], container,
                       "aiop", "controller"]
            environ = dict(os.environ)
        else:
            command = [sys.executable, "-m", "controller.cli", "controller"]
            environ = {**os.environ, **env}
        log_path = home / "controller.log"
        load_at_start = os.getloadavg()[0]
        started = time.monotonic()
        controller = subprocess.Popen(command, env=environ, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if controller.poll() is not None:
                    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
                    raise SystemExit(f"the controller exited with {controller.returncode}: {shlex.join(command)}\n"
                                     f"its last output ({log_path}):\n{tail}")
                time.sleep(0.1)
            ready_s = time.monotonic() - started
            rss_ready, peak_ready = _rss_mb(controller.pid)
            cpu_ready = _cpu_s(controller.pid)
            client = ConversationClient(kube)
            who = Identity(user=bootstrap.DEMO_USER)
            client.say("shop", "footprint", "scale web in shop to 3 replicas", who)
            client.wait_settled("shop", "footprint", timeout=300)
            client.approve("shop", "footprint", who)
            thread = client.wait_settled("shop", "footprint", timeout=300)
            rss_after, peak = _rss_mb(controller.pid)
            _check_outcome(kube, thread)
        finally:
            controller.terminate()
            controller.wait(timeout=30)
            if args.image:
                subprocess.run(["buildah", "--storage-driver", "vfs", "rm", container], capture_output=True)
    result = {"embedder": "image" if args.image else args.embedder, "ready_s": round(ready_s, 2),
              "cpu_to_ready_s": round(cpu_ready, 2), "rss_ready_mb": round(rss_ready),
              "rss_after_thread_mb": round(rss_after), "rss_peak_at_ready_mb": round(peak_ready),
              "rss_peak_mb": round(peak),
              "load_average_at_start": round(load_at_start, 2), "load_average": round(os.getloadavg()[0], 2),
              "command": shlex.join(["python", "-m", "bench.footprint", *sys.argv[1:]])}
    print(f"ready after {ready_s:.1f} s ({cpu_ready:.1f} s of CPU); RSS {rss_ready:.0f} MB when ready (peak "
          f"{peak_ready:.0f} MB so far), {rss_after:.0f} MB after a thread (peak {peak:.0f} MB); load {load_at_start:.1f} at start, "
          f"{result['load_average']:.1f} at the end")
    out = Path(__file__).parent / "results" / f"footprint-{result['embedder']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
