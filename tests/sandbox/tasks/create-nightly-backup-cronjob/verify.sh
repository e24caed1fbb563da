#!/usr/bin/env bash
cj=$(kubectl get cronjob nightly-backup -n backups -o json) || exit 1
[ "$(kubectl get cronjob nightly-backup -n backups -o jsonpath='{.spec.schedule}')" = "30 2 * * *" ] || exit 1
[ "$(kubectl get cronjob nightly-backup -n backups -o jsonpath='{.spec.successfulJobsHistoryLimit}')" = "2" ] || exit 1
[ "$(kubectl get cronjob nightly-backup -n backups -o jsonpath='{.spec.failedJobsHistoryLimit}')" = "1" ] || exit 1
kubectl get cronjob nightly-backup -n backups -o jsonpath='{.spec.jobTemplate.spec.template.spec.containers[0].image}' | grep -q busybox:1.36 || exit 1
