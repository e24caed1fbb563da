#!/usr/bin/env bash
kubectl patch cronjob cleanup -n ops -p '{"spec": {"suspend": true}}'
