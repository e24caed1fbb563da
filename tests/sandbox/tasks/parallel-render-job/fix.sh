#!/usr/bin/env bash
kubectl apply -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: thumbnails, namespace: render}
spec:
  completions: 6
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: render
        image: busybox:1.36
        command: ["sh", "-c", "echo rendered batch"]
YAML
kubectl wait --for=condition=complete job/thumbnails -n render --timeout=60s
