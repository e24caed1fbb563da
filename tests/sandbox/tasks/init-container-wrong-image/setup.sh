#!/usr/bin/env bash
kubectl delete namespace wiki --ignore-not-found
kubectl create namespace wiki
kubectl apply -n wiki -f - <<YAML
apiVersion: v1
kind: Pod
metadata: {name: wiki, labels: {app: wiki}}
spec:
  initContainers:
  - name: fetch-theme
    image: busybox:1.63
    command: ["sh", "-c", "echo theme ready > /work/theme"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: wiki
    image: nginx:1.27
    volumeMounts: [{name: work, mountPath: /usr/share/nginx/html/theme}]
  volumes:
  - name: work
    emptyDir: {}
YAML
for i in {1..20}; do
  kubectl get pod wiki -n wiki -o jsonpath='{.status.initContainerStatuses[0].state.waiting.reason}' | grep -q -E 'ErrImagePull|ImagePullBackOff' && exit 0
  sleep 1
done
exit 1
