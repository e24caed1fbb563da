"""The CronJob controller: Jobs on schedule, suspend and concurrency honoured, history trimmed.

Why: "did my CronJob run?" is answered by its Jobs and `lastScheduleTime`. At each scheduled
minute (in the cluster clock, which tests may speed up or advance) the controller creates
`<name>-<minutes since the epoch>` from the jobTemplate, unless the CronJob is suspended, the
start is later than `startingDeadlineSeconds`, or `concurrencyPolicy: Forbid` meets a running Job
(`Replace` deletes it first). Finished Jobs beyond successfulJobsHistoryLimit (3) and
failedJobsHistoryLimit (1) are deleted, and the status keeps `active`, `lastScheduleTime` and
`lastSuccessfulTime`, with the controller's Events.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.clock import parse_rfc3339, rfc3339
from sandbox.controllers.base import Controller, owner_reference
from sandbox.controllers.jobs import finished
from sandbox.cron import CronError, parse
from sandbox.recorder import NORMAL, WARNING
from sandbox.store import ObjectKey

CRONJOB_CONTROLLER = "cronjob-controller"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


class CronJobController(Controller):
    name = CRONJOB_CONTROLLER
    watches = (("batch", "cronjobs"), ("batch", "jobs"))
    owner_kind = "CronJob"

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.first_seen: dict[str, float] = {}  # a new CronJob's schedule starts when the cluster clock saw it

    def reconcile(self, key: ObjectKey) -> float | None:
        cj = self.get(*key)
        if cj is None or cj["metadata"].get("deletionTimestamp") or self.staged(cj):
            return None
        spec = cj.get("spec") or {}
        jobs_rt = self.rt("batch", "v1", "jobs")
        namespace = cj["metadata"].get("namespace", "")
        jobs = self.owned("batch", "jobs", cj)
        old = cj.get("status") or {}
        status: dict[str, Any] = {}
        last_success = old.get("lastSuccessfulTime")
        for job in jobs:
            outcome = finished(job)
            if outcome and any(ref.get("uid") == job["metadata"]["uid"] for ref in old.get("active") or []):
                self.recorder.record(cj, "SawCompletedJob", f"Saw completed job: {job['metadata']['name']}, "
                                     f"status: {outcome}", NORMAL, CRONJOB_CONTROLLER)
            if outcome == "Complete":
                completion = (job.get("status") or {}).get("completionTime")
                if completion and (not last_success or completion > last_success):
                    last_success = completion
        self._trim(cj, jobs)
        jobs = self.owned("batch", "jobs", cj)
        running = [j for j in jobs if not finished(j)]
        now = self.clock.now()
        try:
            schedule = parse(str(spec.get("schedule", "")), spec.get("timeZone"))
        except CronError as exc:
            self.recorder.record(cj, "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r} : {exc}",
                                 WARNING, CRONJOB_CONTROLLER)
            return None
        first_seen = self.first_seen.setdefault(cj["metadata"]["uid"], now)
        since = parse_rfc3339(old.get("lastScheduleTime")) or max(
            parse_rfc3339(cj["metadata"].get("creationTimestamp")) or now, first_seen)
        last_schedule = old.get("lastScheduleTime")
        due_time, _ = schedule.last_before(since, now)
        if due_time is not None and not spec.get("suspend"):
            deadline = spec.get("startingDeadlineSeconds")
            if deadline is not None and now - due_time > float(deadline):
                self.recorder.record(cj, "MissSchedule", f"Missed scheduled time to start a job: "
                                     f"{rfc3339(due_time)}", WARNING, CRONJOB_CONTROLLER)
                last_schedule = rfc3339(due_time)
            elif running and spec.get("concurrencyPolicy") == "Forbid":
                self.recorder.record(cj, "JobAlreadyActive", "Not starting job because prior execution is running "
                                     "and concurrency policy is Forbid", NORMAL, CRONJOB_CONTROLLER)
                return now + 10
            else:
                if running and spec.get("concurrencyPolicy") == "Replace":
                    for job in running:
                        self.delete(jobs_rt, job, {"propagationPolicy": "Background"})
                        self.recorder.record(cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}",
                                             NORMAL, CRONJOB_CONTROLLER)
                    running = []
                created = self._create_job(cj, due_time)
                if created is not None:
                    running.append(created)
                last_schedule = rfc3339(due_time)
        if running:
            status["active"] = [{"kind": "Job", "namespace": namespace, "name": j["metadata"]["name"],
                                 "uid": j["metadata"]["uid"], "apiVersion": "batch/v1",
                                 "resourceVersion": j["metadata"].get("resourceVersion", "")} for j in running]
        if last_schedule:
            status["lastScheduleTime"] = last_schedule
        if last_success:
            status["lastSuccessfulTime"] = last_success
        self.write_status(self.rt("batch", "v1", "cronjobs"), cj, status)
        if spec.get("suspend"):
            return None
        return schedule.next_after(max(now, parse_rfc3339(last_schedule) or 0.0))

    def _create_job(self, cj: dict[str, Any], when: float) -> dict[str, Any] | None:
        template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        meta = template.get("metadata") or {}
        name = f"{cj['metadata']['name']}-{int(when // 60)}"
        namespace = cj["metadata"].get("namespace", "")
        if self.get("batch", "jobs", namespace, name) is not None:
            return None
        body = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "labels": dict(meta.get("labels") or {}),
                             "annotations": {**(meta.get("annotations") or {}), SCHEDULED_ANNOTATION: rfc3339(when)},
                             "ownerReferences": [owner_reference(cj, "batch/v1", "CronJob")]},
                "spec": template.get("spec") or {}}
        job = self.create(self.rt("batch", "v1", "jobs"), namespace, body)
        if job is not None:
            self.recorder.record(cj, "SuccessfulCreate", f"Created job {name}", NORMAL, CRONJOB_CONTROLLER)
        return job

    def _trim(self, cj: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
        spec = cj.get("spec") or {}
        rt = self.rt("batch", "v1", "jobs")
        for outcome, limit in (("Complete", int(spec.get("successfulJobsHistoryLimit", 3))),
                               ("Failed", int(spec.get("failedJobsHistoryLimit", 1)))):
            done = sorted((j for j in jobs if finished(j) == outcome),
                          key=lambda j: (j.get("status") or {}).get("startTime") or "")
            for job in done[: max(0, len(done) - limit)]:
                self.delete(rt, job, {"propagationPolicy": "Background"})
                self.recorder.record(cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}", NORMAL,
                                     CRONJOB_CONTROLLER)
