#!/usr/bin/env bash
kubectl delete namespace ops --ignore-not-found
kubectl create namespace ops
kubectl apply -n ops -f - <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: cleanup
            image: busybox:1.36
            command: ["sh", "-c", "echo removing old reports; rm -rf /reports/tmp"]
YAML
kubectl get cronjob cleanup -n ops
