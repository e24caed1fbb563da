"""ARM deployment templates as the fake Azure writes and reads them (tests/cloud/azure_fake.py).

Why apart from the server: what a resource group's export looks like (parameterised names with their
default values, comments, no read-only properties) and how a deployment resolves a template's names are
pure functions of the fake's stored resources; shaped after the REST reference "Resource Groups - Export
Template" and ARM's template format (`$schema`, `contentVersion`, `parameters`, `resources`).
"""

from __future__ import annotations

import re
from typing import Any

EXPORT_OPTIONS = ("IncludeParameterDefaultValue", "IncludeComments", "SkipResourceNameParameterization",
                  "SkipAllParameterization")
# not resources of a group's template: deployments themselves, and Defender's assessments (extension resources)
NOT_EXPORTED = ("microsoft.resources/deployments", "microsoft.security/assessments")
READ_ONLY = ("provisioningState", "timeCreated", "creationTime", "primaryEndpoints", "primaryLocation",
             "statusOfPrimary", "diskState", "uniqueId", "completionPercent", "powerState")


def parameter_name(resource: dict[str, Any]) -> str:
    """ARM's export names a resource's parameter `<provider type>_<name>_name`, e.g. storageAccounts_media_name."""
    kind = resource["type"].rsplit("/", 1)[1]
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{kind}_{resource['name']}_name")


def export_template(resources: list[dict[str, Any]], options: list[str]) -> dict[str, Any]:
    """A deployment template of `resources` as ARM's export writes it (names parameterised unless skipped)."""
    parameterise = not ({"SkipResourceNameParameterization", "SkipAllParameterization"} & set(options))
    parameters: dict[str, Any] = {}
    out = []
    for res in resources:
        entry: dict[str, Any] = {"type": res["type"], "apiVersion": "2023-01-01"}
        if parameterise:
            pname = parameter_name(res)
            parameters[pname] = {"type": "String", **({"defaultValue": res["name"]}
                                                      if "IncludeParameterDefaultValue" in options else {})}
            entry["name"] = f"[parameters('{pname}')]"
        else:
            entry["name"] = res["name"]
        if "IncludeComments" in options:
            entry["comments"] = f"Generalized from resource: '{res['id']}'."
        entry.update({k: res[k] for k in ("location", "sku", "kind", "tags", "zones") if k in res})
        entry["properties"] = {k: v for k, v in (res.get("properties") or {}).items() if k not in READ_ONLY}
        out.append(entry)
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "parameters": parameters, "variables": {}, "resources": out}


def resolve_name(name: str, values: dict[str, Any]) -> str:
    """`[parameters('x')]` -> the parameter's value; a literal name as it is."""
    match = re.fullmatch(r"\[parameters\('([^']+)'\)\]", name)
    if match is None:
        return "" if name.startswith("[") else name
    value = values.get(match.group(1))
    return str(value) if value else ""
