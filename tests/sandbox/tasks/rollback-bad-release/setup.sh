#!/usr/bin/env bash
kubectl delete namespace checkout --ignore-not-found
kubectl create namespace checkout
kubectl apply -n checkout -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, annotations: {kubernetes.io/change-cause: "release 1.26"}}
spec:
  replicas: 3
  progressDeadlineSeconds: 600
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: web, image: nginx:1.26, ports: [{containerPort: 80}]}]
YAML
kubectl rollout status deployment/checkout -n checkout --timeout=60s
kubectl set image deployment/checkout -n checkout web=nginx:1.26-bookwrm
kubectl annotate deployment checkout -n checkout kubernetes.io/change-cause="release 1.26-bookwrm" --overwrite
if kubectl rollout status deployment/checkout -n checkout --timeout=5s; then exit 1; fi
exit 0
