#!/usr/bin/env bash
kubectl patch service frontend -n shop -p '{"spec": {"selector": {"app": "frontend"}}}'
