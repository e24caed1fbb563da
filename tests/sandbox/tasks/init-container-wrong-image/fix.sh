#!/usr/bin/env bash
kubectl get pod wiki -n wiki -o yaml | sed 's#image: busybox:1.63#image: busybox:1.36#' > /tmp/wiki.$$.yaml
kubectl replace --force -f /tmp/wiki.$$.yaml
rm -f /tmp/wiki.$$.yaml
