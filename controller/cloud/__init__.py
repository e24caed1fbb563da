"""The cloud half: read, troubleshoot and secure AWS and Azure resources, and check cloud permissions.

Why a package of its own: Kubernetes is read through the API server as the requester, but the cloud
is read with the operator pod's own cloud identity (IRSA on EKS, Workload Identity on AKS), through
two SDKs with their own error models. Everything the rest of the operator needs from the cloud goes
through one small seam (`seam.py`: `AwsReads`, `AzureReads`, `Directory`, and `CloudAccess` that
carries them), so planners, the catalog and the engine never import boto3 or the Azure SDK.

Layout (pure modules first):
- `model.py`     what is read: buckets, roles, storage accounts, role assignments..., as frozen data
- `policydocs.py` IAM policy documents and Azure permission sets: wildcard matching, plain words
- `findings.py`  security findings with severity, evidence and a remediation (a catalog call)
- `needs.py`     which cloud actions on which resources a plan's ACK/ASO manifests need
- `seam.py`      the Protocols and `CloudAccess`; `cloud_of(cluster)` for planners and the catalog
- `aws.py`, `azure.py`, `graph.py`   the adapters (boto3, the Azure SDK, Microsoft Graph)
- `permissions.py` checks a plan's needs as the ACK controller's role / ASO's identity
- `tools.py`     the read-only cloud tools offered to AI backends (JSON schemas), redacted output
- `troubleshoot.py` workload → ServiceAccount → cloud identity → what it may do, in plain words
- `access.py`    builds `CloudAccess` from the settings (the default credential chains)
"""
