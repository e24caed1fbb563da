#!/usr/bin/env bash
kubectl delete namespace storefront --ignore-not-found
kubectl create namespace storefront
cat <<YAML | kubectl apply -f -
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: storefront
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27-alpnie
        ports:
        - containerPort: 80
YAML
for i in {1..30}; do
  reason=$(kubectl get pods -n storefront -l app=web -o jsonpath='{.items[0].status.containerStatuses[0].state.waiting.reason}')
  if [ "$reason" = "ImagePullBackOff" ] || [ "$reason" = "ErrImagePull" ]; then exit 0; fi
  sleep 1
done
exit 1
