#!/usr/bin/env bash
kubectl delete namespace data --ignore-not-found
kubectl create namespace data
kubectl apply -n data -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: postgres}
spec:
  replicas: 1
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        ports: [{containerPort: 5432}]
        readinessProbe: {tcpSocket: {port: 5432}, periodSeconds: 2}
YAML
for i in {1..30}; do
  if kubectl logs -n data deployment/postgres 2>/dev/null | grep -q "superuser password is not specified"; then exit 0; fi
  if kubectl logs -n data deployment/postgres --previous 2>/dev/null | grep -q "superuser password is not specified"; then exit 0; fi
  sleep 1
done
exit 1
