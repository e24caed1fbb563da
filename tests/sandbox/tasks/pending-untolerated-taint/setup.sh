#!/usr/bin/env bash
kubectl delete namespace batch-jobs --ignore-not-found
kubectl create namespace batch-jobs
for node in $(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'); do
  kubectl taint nodes "$node" workload=batch:NoSchedule --overwrite
done
kubectl apply -n batch-jobs -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingest}
spec:
  replicas: 2
  selector: {matchLabels: {app: ingest}}
  template:
    metadata: {labels: {app: ingest}}
    spec:
      containers:
      - name: ingest
        image: busybox:1.36
        command: ["sh", "-c", "echo ingesting; sleep 3600"]
YAML
sleep 2
kubectl get pods -n batch-jobs -l app=ingest --field-selector=status.phase=Pending -o name | grep -q pod/
