#!/usr/bin/env bash
kubectl delete namespace shop --ignore-not-found
kubectl create namespace shop
kubectl apply -n shop -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  labels: {app: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend, tier: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80, name: http}]
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector: {app: frontnd}
  ports:
  - port: 80
    targetPort: http
YAML
kubectl rollout status deployment/frontend -n shop --timeout=60s
