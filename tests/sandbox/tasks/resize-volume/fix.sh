#!/usr/bin/env bash
kubectl patch pvc archive-data -n archive -p '{"spec": {"resources": {"requests": {"storage": "5Gi"}}}}'
