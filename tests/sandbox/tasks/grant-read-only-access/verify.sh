#!/usr/bin/env bash
[ "$(kubectl auth can-i list pods -n team-a --as jane@example.com)" = "yes" ] || exit 1
[ "$(kubectl auth can-i get deployments -n team-a --as jane@example.com)" = "yes" ] || exit 1
[ "$(kubectl auth can-i delete pods -n team-a --as jane@example.com)" = "no" ] || exit 1
[ "$(kubectl auth can-i list pods -n default --as jane@example.com)" = "no" ] || exit 1
[ "$(kubectl auth can-i get secrets -n team-a --as jane@example.com)" = "no" ]
