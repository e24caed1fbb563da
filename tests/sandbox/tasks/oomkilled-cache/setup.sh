#!/usr/bin/env bash
kubectl delete namespace caching --ignore-not-found
kubectl create namespace caching
kubectl apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache-warmer, namespace: caching, labels: {app: cache-warmer}}
spec:
  replicas: 1
  selector: {matchLabels: {app: cache-warmer}}
  template:
    metadata: {labels: {app: cache-warmer}}
    spec:
      containers:
      - name: warmer
        image: polinux/stress
        command: ["stress"]
        args: ["--vm", "1", "--vm-bytes", "200M", "--vm-hang", "1"]
        resources:
          requests: {memory: 64Mi, cpu: 50m}
          limits: {memory: 128Mi, cpu: 200m}
YAML
for i in {1..30}; do
  if kubectl get pods -n caching -l app=cache-warmer -o jsonpath='{.items[*].status.containerStatuses[*].lastState.terminated.reason}' | grep -q OOMKilled; then
    exit 0
  fi
  sleep 1
done
exit 1
