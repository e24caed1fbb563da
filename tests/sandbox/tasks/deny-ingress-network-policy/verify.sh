#!/usr/bin/env bash
policies=$(kubectl get networkpolicy -n payments -o json) || exit 1
echo "$policies" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
ok = False
for p in items:
    spec = p["spec"]
    if spec.get("podSelector", {}) not in ({}, {"matchLabels": {}}) or "Ingress" not in spec.get("policyTypes", ["Ingress"]):
        continue
    rules = spec.get("ingress") or []
    if all(len(r.get("from") or []) == 1 and set(r["from"][0]) == {"podSelector"} and not r["from"][0]["podSelector"]
           for r in rules):
        ok = True
sys.exit(0 if ok else 1)'
