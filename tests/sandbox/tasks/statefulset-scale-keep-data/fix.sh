#!/usr/bin/env bash
kubectl scale statefulset db -n inventory --replicas=1
