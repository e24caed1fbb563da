#!/usr/bin/env bash
kubectl delete namespace archive --ignore-not-found
kubectl create namespace archive
kubectl apply -n archive -f - <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: archive-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: archiver}
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: ["sh", "-c", "while true; do date >> /data/log; sleep 60; done"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: archive-data}
YAML
kubectl wait --for=condition=Ready pod/archiver -n archive --timeout=60s
