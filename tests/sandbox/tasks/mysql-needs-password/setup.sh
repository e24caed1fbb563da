#!/usr/bin/env bash
kubectl delete namespace data --ignore-not-found
kubectl create namespace data
kubectl apply -n data -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: mysql}
spec:
  replicas: 1
  selector: {matchLabels: {app: mysql}}
  template:
    metadata: {labels: {app: mysql}}
    spec:
      containers:
      - name: mysql
        image: mysql:8.4
        ports: [{containerPort: 3306}]
        readinessProbe: {tcpSocket: {port: 3306}, periodSeconds: 2}
YAML
for i in {1..30}; do
  if kubectl logs -n data deployment/mysql 2>/dev/null | grep -q "password option is not specified"; then exit 0; fi
  if kubectl logs -n data deployment/mysql --previous 2>/dev/null | grep -q "password option is not specified"; then exit 0; fi
  sleep 1
done
exit 1
