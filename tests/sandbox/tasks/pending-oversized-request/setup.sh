#!/usr/bin/env bash
kubectl delete namespace reports --ignore-not-found
kubectl create namespace reports
kubectl apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: report-builder, namespace: reports}
spec:
  replicas: 2
  selector: {matchLabels: {app: report-builder}}
  template:
    metadata: {labels: {app: report-builder}}
    spec:
      containers:
      - name: builder
        image: python:3.12-slim
        command: ["python", "-m", "http.server", "8000"]
        resources:
          requests: {cpu: "12", memory: 256Mi}
YAML
sleep 2
kubectl get pods -n reports -l app=report-builder -o jsonpath='{.items[0].status.conditions[?(@.type=="PodScheduled")].reason}' | grep -q Unschedulable
