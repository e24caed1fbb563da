"""`aiop eval --behaviour FILE`: the scenarios' sandboxes run the simulated cluster of one's own file.

The scenario below stages nothing: its Deployment's image is declared in the behaviour file as a
process that exits 3 at once, saying why on stderr. Only a sandbox that was given the file
crash-loops it (the shipped default runs an unknown `registry.example.com` image as a server, and
the same scenario then fails: "'CrashLoopBackOff' is not in the last answer"), so a pass shows the
file reached the sandbox of the eval worker. The API server is the sandbox (no real one can run here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.cli import app

BEHAVIOUR = """
nodes: [{name: eval-node, capacity: {cpu: "4", memory: 16Gi, pods: "110"}}]
images:
  - repository: registry.example.com/acme/ledger
    tags: ['v[0-9]+']
    shell: none
    run: {exitAfterSeconds: 0, exitCode: 3, logs: [{stream: stderr, text: "panic: LEDGER_DB is not set"}]}
"""

SCENARIO = """
name: crash-from-behaviour
namespace: payments
identity: {user: erin@example.com, groups: [devs]}
cluster:
- {apiVersion: v1, kind: Namespace, metadata: {name: payments}}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: ledger, namespace: payments, labels: {app: ledger}}
  spec:
    replicas: 1
    selector: {matchLabels: {app: ledger}}
    template:
      metadata: {labels: {app: ledger}}
      spec: {containers: [{name: ledger, image: "registry.example.com/acme/ledger:v1"}]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: erin-view, namespace: payments}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
  subjects: [{kind: User, name: erin@example.com, apiGroup: rbac.authorization.k8s.io}]
turns:
- say: ledger keeps crashing in payments, what is going on?
expect:
  mentions: [CrashLoopBackOff, exit code 3, LEDGER_DB is not set]
  unchanged: true
"""


def _files(tmp_path: Path, behaviour: str) -> tuple[Path, Path]:
    (tmp_path / "cluster.yaml").write_text(behaviour)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    return tmp_path / "cluster.yaml", tmp_path / "scenario.yaml"


def test_a_bad_behaviour_file_stops_the_eval_before_any_scenario(tmp_path: Path) -> None:
    behaviour, scenario = _files(tmp_path, "nodes: [{name: n, capacity: {cpu: 4}}]\nimages: [{repository: x, tags: ['(']}]\n")
    result = CliRunner().invoke(app, ["eval", "--behaviour", str(behaviour), str(scenario)])
    assert result.exit_code == 2
    assert str(behaviour) in result.output and "images[x].tags" in result.output
    assert "PASS" not in result.output and "FAIL" not in result.output


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_scenarios_sandbox_runs_the_behaviour_file(tmp_path: Path) -> None:
    behaviour, scenario = _files(tmp_path, BEHAVIOUR)
    out = tmp_path / "results.json"
    result = CliRunner().invoke(app, ["eval", "--behaviour", str(behaviour), str(scenario), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "PASS crash-from-behaviour" in result.output
    assert [r["passed"] for r in json.loads(out.read_text())] == [True]
