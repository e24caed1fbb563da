"""The Job controller: pods until `completions` succeed, or until `backoffLimit` failures fail the Job.

Why: batch work is judged by its conditions (`kubectl wait --for=condition=complete job/x`) and its
counts (COMPLETIONS 3/3). As upstream: up to `parallelism` pods run at once (`<job>-<5 chars>`, or
`<job>-<index>-<5 chars>` with the completion index for Indexed jobs); a failed pod is replaced
after an exponential back-off (10 s, 20 s, ...); failures beyond backoffLimit (restarts count for
OnFailure pods) or a passed activeDeadlineSeconds fail the Job with the real reasons; success adds
SuccessCriteriaMet and Complete; `suspend` removes running pods; `ttlSecondsAfterFinished`
deletes a finished Job.
"""

from __future__ import annotations

from typing import Any

from sandbox.clock import parse_rfc3339, rfc3339
from sandbox.controllers.base import Controller, condition, set_condition
from sandbox.controllers.replicasets import active, pod_from_template, random_suffix, ready_since
from sandbox.recorder import NORMAL, WARNING
from sandbox.store import ObjectKey

JOB_CONTROLLER = "job-controller"
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
POD_BACKOFF_BASE = 10.0
POD_BACKOFF_MAX = 360.0


def finished(job: dict[str, Any]) -> str:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


class JobController(Controller):
    name = JOB_CONTROLLER
    watches = (("batch", "jobs"), ("", "pods"))
    owner_kind = "Job"

    def reconcile(self, key: ObjectKey) -> float | None:
        job = self.get(*key)
        if job is None or job["metadata"].get("deletionTimestamp") or self.staged(job):
            return None
        now = self.clock.now()
        spec = job.get("spec") or {}
        jobs_rt, pods_rt = self.rt("batch", "v1", "jobs"), self.rt("", "v1", "pods")
        done = finished(job)
        if done:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None:
                ended = parse_rfc3339((job.get("status") or {}).get("completionTime")) or \
                    parse_rfc3339((condition((job.get("status") or {}).get("conditions") or [], done) or {})
                                  .get("lastTransitionTime")) or now
                if now >= ended + float(ttl):
                    self.delete(jobs_rt, job, {"propagationPolicy": "Background"})
                    return None
                return ended + float(ttl)
            return None
        pods = self.owned("", "pods", job)
        running = [p for p in pods if active(p)]
        succeeded_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
        failed_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        old = job.get("status") or {}
        restarts = sum(int(cs.get("restartCount") or 0) for p in pods
                       for cs in (p.get("status") or {}).get("containerStatuses") or [])
        succeeded = max(len(succeeded_pods), int(old.get("succeeded") or 0))
        failed = max(len(failed_pods) + restarts, int(old.get("failed") or 0))
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        target = int(completions) if completions is not None else 1
        backoff_limit = int(spec.get("backoffLimit", 6))
        start = parse_rfc3339(old.get("startTime")) or now
        stamp = rfc3339(now)
        status: dict[str, Any] = {"startTime": old.get("startTime") or stamp}
        conditions = [dict(c) for c in old.get("conditions") or []]
        due: float | None = None
        failure = ""
        if spec.get("suspend"):
            for pod in running:
                self.delete(pods_rt, pod)
            running = []
            conditions = set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
            status.pop("startTime", None)
        elif failed > backoff_limit:
            failure = "BackoffLimitExceeded"
        elif spec.get("activeDeadlineSeconds") is not None and now >= start + float(spec["activeDeadlineSeconds"]):
            failure = "DeadlineExceeded"
        elif succeeded >= target or (completions is None and succeeded and not running):
            conditions = set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached",
                                       "Reached expected number of succeeded pods", stamp)
            conditions = set_condition(conditions, "Complete", "True", "CompletionsReached",
                                       "Reached expected number of succeeded pods", stamp)
            status["completionTime"] = stamp
            self.recorder.record(job, "Completed", "Job completed", NORMAL, JOB_CONTROLLER)
            for pod in running:
                self.delete(pods_rt, pod)
            running = []
        else:
            if condition(conditions, "Suspended") is not None:
                conditions = set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", stamp)
            wanted = min(parallelism, target - succeeded) if completions is not None else \
                (parallelism if not succeeded else 0)
            if len(running) < wanted:
                last_failure = max((parse_rfc3339(self._finished_at(p)) or 0.0 for p in failed_pods), default=0.0)
                delay = min(POD_BACKOFF_BASE * 2 ** (len(failed_pods) - 1), POD_BACKOFF_MAX) if failed_pods else 0.0
                if now < last_failure + delay:
                    due = last_failure + delay
                else:
                    for index in self._next_indexes(job, pods, wanted - len(running)):
                        created = self._create_pod(job, index)
                        if created is not None:
                            running.append(created)
        if failure:
            message = {"BackoffLimitExceeded": "Job has reached the specified backoff limit",
                       "DeadlineExceeded": "Job was active longer than specified deadline"}[failure]
            conditions = set_condition(conditions, "FailureTarget", "True", failure, message, stamp)
            conditions = set_condition(conditions, "Failed", "True", failure, message, stamp)
            self.recorder.record(job, failure, message, WARNING, JOB_CONTROLLER)
            for pod in running:
                self.delete(pods_rt, pod)
            running = []
        elif spec.get("activeDeadlineSeconds") is not None and not spec.get("suspend"):
            deadline = start + float(spec["activeDeadlineSeconds"])
            due = deadline if due is None else min(due, deadline)
        ready = sum(1 for p in running if ready_since(p) is not None)
        for field, value in (("active", len(running)), ("succeeded", succeeded), ("failed", failed)):
            if value:
                status[field] = value
        status["ready"] = ready
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        if (spec.get("completionMode") or "NonIndexed") == "Indexed":
            indexes = sorted(int((p["metadata"].get("annotations") or {}).get(INDEX_ANNOTATION, -1))
                             for p in succeeded_pods)
            if indexes:
                status["completedIndexes"] = _ranges(indexes)
        if old.get("completionTime") and "completionTime" not in status:
            status["completionTime"] = old["completionTime"]
        if conditions:
            status["conditions"] = conditions
        self.write_status(self.rt("batch", "v1", "jobs"), job, status)
        return due

    @staticmethod
    def _finished_at(pod: dict[str, Any]) -> str:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            finished_at = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
            if finished_at:
                return str(finished_at)
        return ""

    def _next_indexes(self, job: dict[str, Any], pods: list[dict[str, Any]], count: int) -> list[int | None]:
        spec = job.get("spec") or {}
        if (spec.get("completionMode") or "NonIndexed") != "Indexed":
            return [None] * count
        taken = {int((p["metadata"].get("annotations") or {}).get(INDEX_ANNOTATION, -1)) for p in pods
                 if active(p) or (p.get("status") or {}).get("phase") == "Succeeded"}
        free = [i for i in range(int(spec.get("completions") or 1)) if i not in taken]
        return list(free[:count])

    def _create_pod(self, job: dict[str, Any], index: int | None) -> dict[str, Any] | None:
        name = job["metadata"]["name"]
        pod_name = f"{name}-{index}-{random_suffix()}" if index is not None else f"{name}-{random_suffix()}"
        template = (job.get("spec") or {}).get("template") or {}
        body = pod_from_template(template, job, "batch/v1", "Job", pod_name)
        labels = body["metadata"].setdefault("labels", {})
        uid = job["metadata"]["uid"]
        for k, v in (("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name),
                     ("controller-uid", uid), ("job-name", name)):
            labels.setdefault(k, v)
        if index is not None:
            body["metadata"].setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
            labels[INDEX_ANNOTATION] = str(index)
            for container in body["spec"].get("containers") or []:
                container.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "value": str(index)})
        created = self.create(self.rt("", "v1", "pods"), job["metadata"].get("namespace", ""), body)
        if created is not None:
            self.recorder.record(job, "SuccessfulCreate", f"Created pod: {pod_name}", NORMAL, JOB_CONTROLLER)
        return created


def _ranges(indexes: list[int]) -> str:
    parts, start, prev = [], indexes[0], indexes[0]
    for i in [*indexes[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if i is not None:
            start = prev = i
    return ",".join(parts)
