#!/usr/bin/env bash
kubectl delete namespace docs --ignore-not-found
kubectl create namespace docs
kubectl apply -n docs -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: docs}
spec:
  replicas: 2
  selector: {matchLabels: {app: docs}}
  template:
    metadata: {labels: {app: docs}}
    spec:
      containers:
      - name: httpd
        image: httpd:2.4
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: docs}
spec:
  selector: {app: docs}
  ports:
  - name: web
    port: 80
    targetPort: 8080
YAML
kubectl rollout status deployment/docs -n docs --timeout=60s
