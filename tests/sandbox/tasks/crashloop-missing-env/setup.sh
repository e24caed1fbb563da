#!/usr/bin/env bash
kubectl delete namespace orders --ignore-not-found
kubectl create namespace orders
kubectl apply -n orders -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: busybox:1.36
        command: ["sh", "-c"]
        args:
        - |
          echo "orders-api starting"
          if [ -z "\$DATABASE_URL" ]; then echo "FATAL: DATABASE_URL is not set" >&2; exit 1; fi
          echo "connected to \$DATABASE_URL"
          while true; do sleep 30; done
YAML
for i in {1..30}; do
  if kubectl get pods -n orders -l app=api -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}' | grep -q "[1-9]"; then
    exit 0
  fi
  sleep 1
done
exit 1
