#!/usr/bin/env bash
kubectl delete namespace payments --ignore-not-found
kubectl create namespace payments
kubectl label namespace payments team=payments
kubectl apply -n payments -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: processor}
spec:
  replicas: 1
  selector: {matchLabels: {app: processor}}
  template:
    metadata: {labels: {app: processor}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
YAML
