#!/usr/bin/env bash
kubectl delete namespace gateway --ignore-not-found
kubectl create namespace gateway
kubectl apply -n gateway -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: proxy}
spec:
  replicas: 1
  selector: {matchLabels: {app: proxy}}
  template:
    metadata: {labels: {app: proxy}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        volumeMounts:
        - {name: conf, mountPath: /etc/nginx/conf.d}
      volumes:
      - name: conf
        configMap: {name: proxy-conf}
YAML
sleep 2
kubectl get events -n gateway --field-selector reason=FailedMount -o jsonpath='{.items[*].message}' | grep -q 'configmap "proxy-conf" not found'
