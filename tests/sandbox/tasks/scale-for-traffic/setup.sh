#!/usr/bin/env bash
kubectl delete namespace catalog --ignore-not-found
kubectl create namespace catalog
kubectl apply -n catalog -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, labels: {app: catalog}}
spec:
  replicas: 1
  selector: {matchLabels: {app: catalog}}
  template:
    metadata: {labels: {app: catalog}}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/catalog-api:2.9.0
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}}
YAML
kubectl rollout status deployment/catalog -n catalog --timeout=60s
