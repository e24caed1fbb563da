#!/usr/bin/env bash
kubectl delete namespace team-a --ignore-not-found
kubectl create namespace team-a
kubectl apply -n team-a -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
YAML
