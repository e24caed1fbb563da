#!/usr/bin/env bash
kubectl delete namespace portal --ignore-not-found
kubectl create namespace portal
kubectl apply -n portal -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: portal
spec:
  replicas: 1
  selector:
    matchLabels: {app: portal}
  template:
    metadata:
      labels: {app: portal}
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        ports: [{containerPort: 80}]
        livenessProbe:
          httpGet: {path: /healthz, port: 80}
          initialDelaySeconds: 1
          periodSeconds: 1
          failureThreshold: 2
YAML
for i in {1..30}; do
  restarts=$(kubectl get pods -n portal -l app=portal -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}')
  if [ -n "$restarts" ] && [ "$restarts" -ge 1 ]; then exit 0; fi
  sleep 1
done
exit 1
