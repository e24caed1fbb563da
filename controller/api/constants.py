"""Names that the CRDs, the controller, the UI, the chart and the tests must agree on.

Kept in one place (as Flux keeps condition types and reasons in its API package) so that a
label, annotation, phase or reason is never spelled twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

GROUP: Final = "aiop.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

KIND_CONVERSATION: Final = "AIConversation"
PLURAL_CONVERSATION: Final = "aiconversations"
KIND_REQUEST: Final = "AIRequest"
PLURAL_REQUEST: Final = "airequests"

# The custom RBAC verbs on the conversation resources (principle 3).
VERB_APPROVE: Final = "approve"
VERB_RATE: Final = "rate"
VERB_RESTORE: Final = "restore"

BRANCH_PREFIX: Final = "thread/"
THREADS_DIR: Final = "threads"

LABEL_THREAD: Final = "aiop.dev/thread"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "ai-operator"
ANNOTATION_PLAN_DIGEST: Final = "aiop.dev/plan-digest"
FINALIZER: Final = "aiop.dev/thread-cleanup"
# Leases in the operator's namespace: one per target object a thread holds, one per thread id claimed.
LABEL_LEASE_KIND: Final = "aiop.dev/lease"
ANNOTATION_LOCKED_OBJECT: Final = "aiop.dev/object"
ANNOTATION_HOLDER: Final = "aiop.dev/holder"  # <kind>/<namespace>/<name>/<uid> of the conversation
FIELD_MANAGER_PREFIX: Final = "aiop"  # server-side apply field manager: aiop-<thread>-r<revision>
HISTORY_REF_PREFIX: Final = "refs/aiop/history/"

TRAILER_THREAD: Final = "Aiop-Thread"
TRAILER_DIGEST: Final = "Aiop-Plan-Digest"


class Phase(StrEnum):
    """status.phase of a conversation (the vocabulary of DESIGN.md)."""

    PLANNING = "Planning"
    PERMISSIONS_MISSING = "PermissionsMissing"
    AWAITING_APPROVAL = "AwaitingApproval"
    EXECUTING = "Executing"
    SYNCING = "Syncing"
    AWAITING_RATING = "AwaitingRating"
    COMPLETED = "Completed"
    RESTORING = "Restoring"
    RESTORED = "Restored"
    REJECTED = "Rejected"
    FAILED = "Failed"


TERMINAL_PHASES: Final = frozenset({Phase.COMPLETED, Phase.RESTORED})


class Context(StrEnum):
    """The domain a request is routed to."""

    K8S = "k8s"
    CLOUD_AWS = "cloud-aws"
    CLOUD_AZURE = "cloud-azure"
    SRE = "sre"
    SECURITY = "security"


class ConditionType(StrEnum):
    """Flux-style condition types on a conversation."""

    READY = "Ready"
    PLANNED = "Planned"
    PERMITTED = "Permitted"
    APPROVED = "Approved"
    COMMITTED = "Committed"
    SYNCED = "Synced"
    VERIFIED = "Verified"
    RATED = "Rated"
    RESTORED = "Restored"
    POLICY = "PolicyAllowed"
    LOCKED = "Locked"
    RECONCILING = "Reconciling"  # True while a transient error is being retried


class Reason(StrEnum):
    """Machine-readable reasons; each decides the event type and whether to retry."""

    PLAN_PROPOSED = "PlanProposed"
    ANSWERED = "Answered"
    NEEDS_INPUT = "NeedsInput"
    SUSPICIOUS_REQUEST = "SuspiciousRequest"
    PERMISSIONS_MISSING = "PermissionsMissing"
    POLICY_VIOLATION = "PolicyViolation"
    APPROVED = "Approved"
    APPROVAL_STALE = "ApprovalStale"
    APPROVAL_UNKNOWN_DIGEST = "ApprovalUnknownDigest"
    APPROVAL_UNAUTHORIZED = "ApprovalUnauthorized"
    APPROVAL_NOT_EXPECTED = "ApprovalNotExpected"
    NOTHING_TO_APPROVE = "NothingToApprove"
    COMMITTED = "Committed"
    EXECUTION_FAILED = "ExecutionFailed"
    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    RATED = "Rated"
    REPLANNING = "Replanning"
    RESTORE_REQUESTED = "RestoreRequested"
    RESTORED = "Restored"
    RESTORE_FAILED = "RestoreFailed"
    RESTORE_NOT_AVAILABLE = "RestoreNotAvailable"
    BUSY = "Busy"
    THREAD_CLOSED = "ThreadClosed"
    INVALID_TRANSITION = "InvalidTransition"
    ERROR = "Error"
    PLAN_STALE = "PlanStale"
    TARGET_LOCKED = "TargetLocked"
    LOCK_ACQUIRED = "LockAcquired"
    RATING_UNAUTHORIZED = "RatingUnauthorized"
    RESTORE_UNAUTHORIZED = "RestoreUnauthorized"
    RESTORE_CONFLICT = "RestoreConflict"
    TURNS_REWRITTEN = "TurnsRewritten"
    THREAD_ID_TAKEN = "ThreadIdTaken"
    RETRYING = "Retrying"
    VERIFYING = "Verifying"
    WAITING_FOR_SNAPSHOTS = "WaitingForSnapshots"
    RESTORING_DATA = "RestoringData"
