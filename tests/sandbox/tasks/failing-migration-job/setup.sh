#!/usr/bin/env bash
kubectl delete namespace accounts --ignore-not-found
kubectl create namespace accounts
kubectl apply -n accounts -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: python:3.12-slim
        command: ["pyhton", "-c", "print('migrated 42 tables')"]
YAML
for i in {1..60}; do
  if kubectl get job migrate -n accounts -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}' | grep -q True; then exit 0; fi
  sleep 1
done
exit 1
