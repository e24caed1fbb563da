#!/usr/bin/env bash
kubectl delete namespace ledger --ignore-not-found
kubectl create namespace ledger
kubectl create secret generic ledger-db -n ledger --from-literal=username=ledger --from-literal=pass=s3cr3t
kubectl apply -n ledger -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger}
spec:
  replicas: 1
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers:
      - name: app
        image: busybox:1.36
        command: ["sh", "-c", "echo user=\$DB_USER; sleep 3600"]
        env:
        - name: DB_USER
          valueFrom: {secretKeyRef: {name: ledger-db, key: username}}
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: ledger-db, key: password}}
YAML
for i in {1..20}; do
  kubectl get pods -n ledger -l app=ledger -o jsonpath='{.items[0].status.containerStatuses[0].state.waiting.reason}' | grep -q CreateContainerConfigError && exit 0
  sleep 1
done
exit 1
