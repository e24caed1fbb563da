"""Speech acts, several steps, out-of-catalog requests and the plan-vs-request check (issue 13 §1-3).

The pure pieces are tested on their own (with the issue's own examples), then through the planner:
what a person sees is that a question stays a question, "can't" is said honestly with what the
operator can do instead, and one request with several actions becomes one plan in order.
"""

from __future__ import annotations

import pytest

from controller.planning import coverage
from controller.planning.offline.planner import OfflineBackend
from controller.planning.offline.scope import out_of_scope
from controller.planning.offline.speech import classify_act, split_steps
from tests.planning.fixtures import request, shop_cluster


@pytest.mark.parametrize(("text", "kind"), [
    ("scale web to 5", "command"),
    ("could you double the web replicas", "command"),
    ("Would you mind bumping worker to 2 replicas?", "command"),
    ("the worker is stuck, restart it please", "command"),
    ("Salesforce is in a maintenance window, so pause the sync-salesforce cronjob", "command"),
    ("data-es-0 is 90% full, grow that volume claim to 60Gi please", "command"),
    ("I need a 20Gi persistent volume claim called uploads", "command"),
    ("don't scale web, just tell me how many replicas it has", "negated"),
    ("Don't change anything, just tell me: which image does api run?", "negated"),
    ("leave it as it is and tell me the memory limit", "negated"),
    ("why did api restart several times?", "problem"),
    ("what happened to pod worker-abc? it restarted", "problem"),
    ("helpdesk pods are Running but show 0/1 ready and the service gets no traffic. What's going on?", "problem"),
    ("please fix the thumbnailer, its pods never start", "problem"),
    ("how many replicas does web have?", "question"),
    ("is web exposed on port 80?", "question"),
    ("should I scale web to 5?", "question"),
])
def test_speech_acts(text: str, kind: str) -> None:
    """Questions, problem reports and negations are told apart from commands before any intent."""
    assert classify_act(text).kind == kind


def test_harden_with_read_only_filesystem_is_a_command() -> None:
    """'read-only root filesystem' is a setting, not a request to stay read-only."""
    assert classify_act("Harden web: non-root and a read-only root filesystem.").kind == "command"


def test_fix_with_a_value_is_a_command_and_fix_alone_a_problem() -> None:
    assert classify_act("fix the probe port of the api to 9001").kind == "command"
    act = classify_act("billing-api shows 0/2 ready - find out why and fix it")
    assert act.kind == "problem" and act.wants_fix


@pytest.mark.parametrize(("text", "steps"), [
    ("scale api to 4 and raise its memory limit to 1Gi", ["scale api to 4", "raise its memory limit to 1Gi"]),
    ("Roll x out to a/x:2.4.0 and, in the same change, add the env var MAX=500.",
     ["Roll x out to a/x:2.4.0", "add the env var MAX=500"]),
    ("set the image to a:2, then scale it to 5", ["set the image to a:2", "scale it to 5"]),
    ("restart web; also add the label tier=frontend to it", ["restart web", "add the label tier=frontend to it"]),
    ("set cpu request 250m and memory limit 512Mi on web", ["set cpu request 250m and memory limit 512Mi on web"]),
    ("make a role r allowing get, update and patch on deployments",
     ["make a role r allowing get, update and patch on deployments"]),
    ("in config map web-config, set MAX_CONN to 250", ["in config map web-config, set MAX_CONN to 250"]),
])
def test_split_steps(text: str, steps: list[str]) -> None:
    """A new action verb after and/then/; starts a new step; lists of values or verbs do not."""
    assert split_steps(text) == steps


@pytest.mark.parametrize(("text", "covered"), [
    ("create an ingress for inventory on shop.example.com", [coverage.Step("netpol-deny-ingress", ("NetworkPolicy",))]),
    ("make inventory's pods run as non-root", [coverage.Step("create-pdb", ("PodDisruptionBudget",))]),
    ("resize the mongo volume to 100Gi", [coverage.Step("set-resources", ("Deployment",))]),
    ("set up a cronjob to restart cart-svc every night", [coverage.Step("restart", ("Deployment",))]),
    ("remove the DEBUG env var from web", [coverage.Step("delete-object", ("Deployment",))]),
])
def test_the_issues_wrong_plans_are_refused(text: str, covered: list[coverage.Step]) -> None:
    """Each plan the issue found in the wild names something the plan does not touch: it is refused."""
    answer = coverage.refusal(text, covered, ["the plan"])
    assert answer is not None and "Nothing was proposed" in answer


@pytest.mark.parametrize(("text", "steps"), [
    ("Create an ingress called ghost for blog.acme-corp.dev. Use the nginx ingress class and terminate TLS with "
     "the blog-tls certificate secret.", [coverage.Step("create-ingress", ("Ingress",))]),
    ("Hook the renderer service account up to Azure Workload Identity so the renderer can read our blob container.",
     [coverage.Step("sa-azure-identity", ("ServiceAccount",))]),
    ("pause the sync cronjob until I say otherwise", [coverage.Step("suspend-cronjob", ("CronJob",))]),
    ("scale api to 4 and raise its memory limit to 1Gi", [coverage.Step("scale"), coverage.Step("set-resources")]),
    ("launch a bare pod named probe using ubuntu:24.04", [coverage.Step("create-pod", ("Pod",))]),
    ("make a new namespace qa with label env=qa", [coverage.Step("create-namespace", ("Namespace",))]),
])
def test_plans_that_cover_the_request_pass(text: str, steps: list[coverage.Step]) -> None:
    """Purpose clauses, object names and label pairs are not requests; a plan doing what was asked passes."""
    assert coverage.unaccounted(text, steps) == []


def test_an_unknown_action_is_never_refused() -> None:
    """The check only refuses what it can judge: an action it does not know accounts for everything."""
    assert coverage.unaccounted("create an ingress with tls", [coverage.Step("apply-manifest", ("Ingress",))]) == []


@pytest.mark.parametrize("text", ["increase the partitions of the events topic to 48", "uncordon node ip-10-0-2-7",
                                  "install cert-manager with helm", "close github issue 311",
                                  "add an envoy sidecar to web", "create a ClusterRole for everyone"])
def test_out_of_scope_concepts(text: str) -> None:
    assert out_of_scope(text) is not None


@pytest.mark.parametrize("text", ["scale kafka-ui to 3", "restart the tickets deployment",
                                  "create a cronjob backup-runner with image x:1 every day at 02:00",
                                  "deploy a statefulset kv of etcd:3.5"])
def test_names_are_not_concepts(text: str) -> None:
    """A Deployment called kafka-ui, a namespace called tickets, an image called etcd are names."""
    assert out_of_scope(text, names=["tickets"]) is None


def test_out_of_catalog_is_an_honest_cannot_with_alternatives(backend: OfflineBackend) -> None:
    result = backend.propose(request("scale the Kafka topic orders to 12 partitions"), shop_cluster())
    assert result.kind == "unsupported" and not result.actions
    assert "Kafka topics" in result.answer and "I can scale the Deployments" in result.answer


def test_a_question_is_never_a_plan(backend: OfflineBackend) -> None:
    result = backend.propose(request("don't scale web, just tell me how many replicas it has"), shop_cluster())
    assert result.kind == "answer" and not result.actions and "2 replicas" in result.answer


def test_a_restart_report_is_a_diagnosis_not_a_restart(backend: OfflineBackend) -> None:
    result = backend.propose(request("why did the api restart so often?"), shop_cluster())
    assert result.intent == "diagnose" and not any(a.action == "restart" for a in result.actions)


def test_forbid_unless_allowed_is_default_deny(backend: OfflineBackend) -> None:
    result = backend.propose(request("forbid all ingress into payments unless explicitly allowed"), shop_cluster())
    assert [a.action for a in result.actions] == ["netpol-deny-ingress"]
    assert result.actions[0].params == {"namespace": "payments"}


def test_several_steps_in_order(backend: OfflineBackend) -> None:
    result = backend.propose(request("scale api to 4 and raise its memory limit to 1Gi"), shop_cluster())
    assert [a.action for a in result.actions] == ["scale", "set-resources"]
    assert result.actions[0].params["replicas"] == 4 and result.actions[1].params["name"] == "api"
    assert result.actions[1].params["limits"] == {"memory": "1Gi"}
    assert "Step 1" in result.answer and "Step 2" in result.answer


def test_a_step_that_cannot_be_planned_asks_about_that_step(backend: OfflineBackend) -> None:
    result = backend.propose(request("restart web and scale the frontend to 3"), shop_cluster())
    assert result.kind == "clarify" and "Step 2" in result.answer and not result.actions


@pytest.mark.parametrize(("text", "replicas"), [("scale up web by 100%", 4), ("scale down web by 50%", 1),
                                                ("two more api pods", 5), ("halve api", 2), ("triple worker", 3)])
def test_relative_amounts_are_computed_from_the_live_value(backend: OfflineBackend, text: str, replicas: int) -> None:
    """The issue's 101 and 0 replicas: percentages are relative, and the computation is shown."""
    result = backend.propose(request(text), shop_cluster())
    assert result.actions[0].action == "scale" and result.actions[0].params["replicas"] == replicas
    assert "as asked" in result.answer


# -- incidental words do not refuse a clear catalog request (a colleague's bug after issue 14) ----------

def _claim(name: str, size: str = "20Gi") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "shop", "labels": {"app": "postgres"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                     "resources": {"requests": {"storage": size}}},
            "status": {"phase": "Bound", "capacity": {"storage": size}}}


@pytest.mark.parametrize(("text", "size"), [
    ("grow the postgres volume to 50Gi, the ledger tables are filling it up", "50Gi"),
    ("take a snapshot first, then grow data-postgres-0 to 40Gi", "40Gi"),
    ("snapshot the data volume and then expand it to 40Gi", "40Gi"),
    ("the orders table has 90M rows, resize data-postgres-0 to 80Gi", "80Gi"),
    ("back up the volume first and bump data-postgres-0 to 60Gi", "60Gi"),
])
def test_tables_and_snapshot_words_do_not_refuse_an_expansion(backend: OfflineBackend, text: str, size: str) -> None:
    """"tables" that are only the reason, and a snapshot the plan takes anyway, leave the expansion planned."""
    result = backend.propose(request(text), shop_cluster(_claim("data-postgres-0")))
    assert result.kind == "plan", result.answer
    assert [(a.action, a.params["name"], a.params["size"]) for a in result.actions] == \
        [("expand-pvc", "data-postgres-0", size)]
    # the engine adds the "Before running: snapshot ..." line (tests/eval-scenarios/h14-expand-with-snapshot-words.yaml)
    assert ("You asked for a snapshot first" in result.answer) is ("snapshot" in text or "back up" in text)


def test_database_upgrade_with_snapshot_first_is_planned(backend: OfflineBackend) -> None:
    """The snapshot asked for is the plan's own "Before running" step, so the upgrade is planned."""
    result = backend.propose(request("upgrade postgres to postgres:16.4, snapshot it first"),
                             shop_cluster(_claim("data-postgres-0")))
    assert result.kind == "plan", result.answer
    assert [(a.action, a.params["kind"], a.params["name"], a.params["image"]) for a in result.actions] == \
        [("set-image", "StatefulSet", "postgres", "postgres:16.4")]
    assert "You asked for a snapshot first" in result.answer


@pytest.mark.parametrize(("text", "what"), [
    ("snapshot the etcd database", "inside an application"),
    ("take a snapshot of the orders database", "snapshots and backups on their own"),
    ("drop the sessions table", "inside an application"),
    ("truncate the audit tables", "inside an application"),
    ("run the database migrations", "inside an application"),
    ("back up the db every night", "snapshots and backups on their own"),
    ("delete old rows from the events table", "inside an application"),
    ("add an index to the orders table", "inside an application"),
    ("take a snapshot of data-postgres-0 and scale postgres to 2", "snapshots and backups on their own"),
])
def test_database_internals_and_bare_snapshots_stay_refused(backend: OfflineBackend, text: str, what: str) -> None:
    """A table operation, or a snapshot with no change the operator snapshots before, is an honest "cannot"."""
    result = backend.propose(request(text), shop_cluster(_claim("data-postgres-0")))
    assert result.kind == "unsupported" and not result.actions, (result.kind, result.actions)
    assert what in result.answer and "Instead:" in result.answer


@pytest.mark.parametrize(("text", "refused"), [
    ("grow the postgres volume to 50Gi, the ledger tables are filling it up", False),
    ("take a snapshot first, then grow it to 40Gi", False),
    ("the tables are huge", False),
    ("drop the sessions table", True),
    ("clean up the old audit tables", True),
    ("alter table orders add column x", True),
    ("take a snapshot of the orders database", True),
    ("create a cronjob backup-runner with image x:1 every day at 02:00", False),
    ("provision a new persistent volume claim backups of 30Gi", False),
    ("back up the volume first and bump it to 60Gi", False),
])
def test_scope_rules_on_their_own(text: str, refused: bool) -> None:
    assert (out_of_scope(text) is not None) is refused
