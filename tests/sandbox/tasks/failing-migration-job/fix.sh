#!/usr/bin/env bash
kubectl get job migrate -n accounts -o json > /tmp/migrate.$$.json
kubectl delete job migrate -n accounts
sed -e 's/"pyhton"/"python"/' /tmp/migrate.$$.json | python3 -c '
import json, sys
job = json.load(sys.stdin)
meta = job["metadata"]
job["metadata"] = {"name": meta["name"], "namespace": meta["namespace"]}
job["spec"].pop("selector", None)
labels = job["spec"]["template"]["metadata"].get("labels", {})
for key in list(labels):
    if "controller-uid" in key or "job-name" in key:
        del labels[key]
job.pop("status", None)
print(json.dumps(job))' | kubectl apply -f -
rm -f /tmp/migrate.$$.json
kubectl wait --for=condition=complete job/migrate -n accounts --timeout=60s
