#!/usr/bin/env bash
kubectl delete namespace billing --ignore-not-found
kubectl create namespace billing
cat <<YAML | kubectl apply -f -
apiVersion: apps/v1
kind: Deployment
metadata:
  name: invoices
  namespace: billing
spec:
  replicas: 2
  selector:
    matchLabels: {app: invoices}
  template:
    metadata:
      labels: {app: invoices}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata:
  name: invoices
  namespace: billing
spec:
  selector: {app: invoices}
  ports:
  - port: 80
    targetPort: 80
YAML
if ! kubectl wait --for=condition=Available=False deployment/invoices -n billing --timeout=60s; then exit 1; fi
