"""Cloud places: AWS regions and Azure locations as people write them ("Oregon", "West Europe").

Why a table: region names are a closed vocabulary, so a lookup beats any fuzzy guess; aliases map
city and state names to the region code, and Azure locations are matched with their words joined.
"""

from __future__ import annotations

import re

from controller.planning.offline.extract import normalise


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


_AWS_REGION_RE = re.compile(
    r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)(?:-gov)?-(?:east|west|north|south|central|northeast|southeast|northwest|southwest)-\d)\b"
)
AWS_REGION_ALIASES = {
    "n. virginia": "us-east-1", "north virginia": "us-east-1", "virginia": "us-east-1", "ohio": "us-east-2",
    "n. california": "us-west-1", "northern california": "us-west-1", "california": "us-west-1",
    "oregon": "us-west-2", "ireland": "eu-west-1", "london": "eu-west-2", "paris": "eu-west-3",
    "frankfurt": "eu-central-1", "stockholm": "eu-north-1", "milan": "eu-south-1", "tokyo": "ap-northeast-1",
    "seoul": "ap-northeast-2", "singapore": "ap-southeast-1", "sydney": "ap-southeast-2", "mumbai": "ap-south-1",
    "sao paulo": "sa-east-1", "canada": "ca-central-1", "montreal": "ca-central-1",
}
AZURE_LOCATIONS = _words("""
eastus eastus2 westus westus2 westus3 centralus northcentralus southcentralus westcentralus canadacentral
canadaeast brazilsouth northeurope westeurope uksouth ukwest francecentral francesouth germanywestcentral
germanynorth switzerlandnorth switzerlandwest norwayeast norwaywest swedencentral polandcentral italynorth
spaincentral eastasia southeastasia japaneast japanwest australiaeast australiasoutheast australiacentral
centralindia southindia westindia koreacentral koreasouth uaenorth uaecentral southafricanorth qatarcentral
israelcentral mexicocentral newzealandnorth
""")


def aws_region(text: str) -> str | None:
    low = normalise(text).lower()
    m = _AWS_REGION_RE.search(low)
    if m:
        return m.group(1)
    for alias, region in sorted(AWS_REGION_ALIASES.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(alias)}\b", low):
            return region
    return None


def azure_location(text: str) -> str | None:
    """"westeurope", "West Europe", "east us 2" -> the Azure location name."""
    words = re.findall(r"[a-z0-9]+", normalise(text).lower())
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            joined = "".join(words[i:i + size])
            if joined in AZURE_LOCATIONS:
                return joined
    return None
