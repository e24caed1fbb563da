#!/usr/bin/env bash
kubectl delete namespace search-api --ignore-not-found
kubectl create namespace search-api
kubectl apply -n search-api -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: search}
spec:
  replicas: 1
  selector: {matchLabels: {app: search}}
  template:
    metadata: {labels: {app: search}}
    spec:
      containers:
      - name: search
        image: nginx:1.27
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 500m, memory: 128Mi}}
YAML
kubectl rollout status deployment/search -n search-api --timeout=60s
