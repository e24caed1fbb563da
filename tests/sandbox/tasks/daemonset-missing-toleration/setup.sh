#!/usr/bin/env bash
kubectl delete namespace logging --ignore-not-found
kubectl create namespace logging
kubectl taint nodes sandbox-worker3 dedicated=database:NoSchedule --overwrite
kubectl apply -n logging -f - <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: log-agent}
spec:
  selector: {matchLabels: {app: log-agent}}
  template:
    metadata: {labels: {app: log-agent}}
    spec:
      containers:
      - name: agent
        image: busybox:1.36
        command: ["sh", "-c", "while true; do echo shipping logs; sleep 10; done"]
YAML
sleep 2
[ "$(kubectl get ds log-agent -n logging -o jsonpath='{.status.desiredNumberScheduled}')" = "2" ]
