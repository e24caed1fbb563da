"""Builders for cloud resources managed through Kubernetes controllers (ACK S3, Azure Service Operator).

Why separate: cloud names follow cloud rules (S3 bucket names, 3-24 lower-case alphanumerics for
storage accounts) and locations are spelled many ways ("West Europe", "Oregon"), so these builders
normalise and validate names and ask when one is missing instead of inventing it.
"""

from __future__ import annotations

import re

from controller.planning.offline import extract, places
from controller.planning.offline.context import Ctx, Outcome

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RG = re.compile(r"^[-\w._()]{1,90}$")
_NOT_A_NAME = {"in", "on", "at", "for", "with", "and", "the", "a", "an", "azure", "aws", "s3", "new", "storage",
               "group", "resource", "account", "bucket", "region", "location", "versioning", "encryption", "located",
               "called", "named", "under", "inside", "within", "that", "which", "to", "blob"}


def _names(text: str, nouns: str) -> list[str]:
    return [n for n in extract.named(text, nouns) if n.lower() not in _NOT_A_NAME
            and not places.azure_location(n) and not places.aws_region(n)]


def build_s3(ctx: Ctx) -> Outcome:
    name = ctx.first(lambda t: next((n.lower() for n in _names(t, r"s3 bucket|bucket") if _BUCKET.match(n.lower())),
                                    None))
    if name is None and ctx.seed.get("name"):
        name = str(ctx.seed["name"])
    if name is None:
        return Outcome.ask("What should the S3 bucket be called (3-63 lower-case letters, digits, dots or dashes)?")
    region = ctx.first(places.aws_region) or ctx.seed.get("region")
    if region is None and (pref := ctx.preference("aws_region")):
        region = str(pref)
        ctx.notes.append(f"Used your preferred AWS region {region}.")
    all_text = ctx.text_all().lower()
    versioning = bool(re.search(r"versioning|versioned|keep (?:old |previous )?versions", all_text)) and not re.search(
        r"\b(?:no|without|disable[d]?)\s+versioning", all_text)
    encryption = bool(re.search(r"encrypt", all_text)) and not re.search(r"\b(?:no|without)\s+encryption", all_text)
    params = {"name": name, "namespace": ctx.namespace, "versioning": versioning, "encryption": encryption}
    if region:
        params["region"] = region
    extras = [w for w, on in (("versioning", versioning), ("encryption", encryption)) if on]
    answer = (f"Create S3 bucket {name}" + (f" in {region}" if region else " (region: the controller's default)")
              + (f" with {' and '.join(extras)} enabled" if extras else "")
              + f", as an ACK Bucket resource in namespace {ctx.namespace}.")
    return Outcome.plan("create-s3-bucket", params, answer)


def _location(ctx: Ctx) -> str | None:
    loc = ctx.first(places.azure_location) or ctx.seed.get("location")
    if loc is None and (pref := ctx.preference("azure_location")):
        loc = str(pref).lower().replace(" ", "")
        ctx.notes.append(f"Used your preferred Azure location {loc}.")
    return loc


def build_resource_group(ctx: Ctx) -> Outcome:
    def rg_name(text: str) -> str | None:
        cands = _names(text, r"resource[\s-]?group|rg")
        cands += [w for w in extract.tokens(text) if w.startswith("rg-") or w.endswith("-rg")]
        return next((c for c in cands if _RG.match(c)), None)

    name = ctx.first(rg_name) or ctx.seed.get("name")
    if name is None:
        return Outcome.ask("What should the Azure resource group be called?")
    location = _location(ctx)
    if location is None:
        return Outcome.ask(f"In which Azure location should resource group {name} be created (for example westeurope)?")
    params = {"name": name, "namespace": ctx.namespace, "location": location}
    return Outcome.plan("create-azure-resource-group", params,
                        f"Create Azure resource group {name} in {location}, as an Azure Service Operator "
                        f"ResourceGroup in namespace {ctx.namespace}.")


def build_storage_account(ctx: Ctx) -> Outcome:
    def account(text: str) -> str | None:
        cands = _names(text, r"storage[\s-]?account|account")
        for c in cands:
            clean = re.sub(r"[^a-z0-9]", "", c.lower())
            if 3 <= len(clean) <= 24 and not clean.startswith("rg"):
                return clean
        return None

    def group(text: str) -> str | None:
        low = extract.normalise(text)
        m = re.search(r"\b(?:resource[\s-]?group|rg)\s+(?:named\s+|called\s+)?['\"]?([-\w.()]+)", low, re.I) or re.search(
            r"\b(?:in|under|inside|within)\s+(?:the\s+)?['\"]?([-\w.()]+)['\"]?\s+(?:resource[\s-]?group|rg|group)\b", low, re.I)
        if m and m.group(1).lower() not in _NOT_A_NAME:
            return m.group(1)
        rg = [w for w in extract.tokens(text) if w.startswith("rg-") or w.endswith("-rg")]
        return rg[0] if rg else None

    name = ctx.first(account) or ctx.seed.get("name")
    if name is None:
        return Outcome.ask("What should the storage account be called (3-24 lower-case letters and digits)?")
    rg = ctx.first(group) or ctx.seed.get("resource_group")
    if rg is None and (pref := ctx.preference("resource_group")):
        rg = str(pref)
        ctx.notes.append(f"Used your preferred resource group {rg}.")
    if rg is None:
        return Outcome.ask(f"In which Azure resource group should storage account {name} be created?")
    location = _location(ctx)
    if location is None:
        return Outcome.ask(f"In which Azure location should storage account {name} be created (for example westeurope)?")
    low = ctx.text_all().lower()
    sku = "Standard_LRS"
    if re.search(r"read[\s-]access|ra-?grs", low):
        sku = "Standard_RAGRS"
    elif re.search(r"geo[\s-]?redundan|\bgrs\b", low):
        sku = "Standard_GRS"
    elif re.search(r"zone[\s-]?redundan|\bzrs\b", low):
        sku = "Standard_ZRS"
    elif re.search(r"\bpremium\b", low):
        sku = "Premium_LRS"
    params = {"name": name, "namespace": ctx.namespace, "resource_group": rg, "location": location, "sku": sku}
    return Outcome.plan("create-azure-storage-account", params,
                        f"Create Azure storage account {name} ({sku}) in resource group {rg}, {location}, as an Azure "
                        f"Service Operator StorageAccount in namespace {ctx.namespace}.")
