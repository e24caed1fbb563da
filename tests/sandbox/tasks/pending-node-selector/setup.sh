#!/usr/bin/env bash
kubectl delete namespace search --ignore-not-found
kubectl create namespace search
kubectl apply -n search -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: indexer
  labels: {app: indexer}
spec:
  nodeSelector:
    disktype: ssd
  containers:
  - name: indexer
    image: redis:7.4
YAML
sleep 2
kubectl get events -n search --field-selector involvedObject.name=indexer,reason=FailedScheduling -o name | grep -q .
