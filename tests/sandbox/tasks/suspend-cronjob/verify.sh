#!/usr/bin/env bash
[ "$(kubectl get cronjob cleanup -n ops -o jsonpath='{.spec.suspend}')" = "true" ] || exit 1
[ "$(kubectl get cronjob cleanup -n ops -o jsonpath='{.spec.schedule}')" = "*/5 * * * *" ]
