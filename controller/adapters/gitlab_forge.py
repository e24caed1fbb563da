"""GitLab merge requests through python-gitlab (gitlab.com or self-managed, a project or group token).

Same contract as the other forges: opening is idempotent per source branch; configured reviewers
(usernames) are set as the MR's reviewers, and configured groups become an approval rule that
requires one approval from the group ("merged by a group of users"). Status follows the MR state
(opened/merged/closed) and its approvals.
"""

from __future__ import annotations

from typing import Any

import gitlab
from gitlab.exceptions import GitlabError

from controller.adapters.forge import CLOSED, MERGED, OPEN, PullRequest, PullRequestStatus
from controller.adapters.forge_auth import ForgeCredentials
from controller.adapters.github_forge import ForgeError

DEFAULT_URL = "https://gitlab.com"
_STATES = {"opened": OPEN, "merged": MERGED, "closed": CLOSED, "locked": OPEN}


class GitLabForge:
    def __init__(self, project: str, credentials: ForgeCredentials, api_url: str = "",
                 reviewers: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> None:
        self.project = project
        self.name = project
        self.credentials = credentials
        self.reviewers = reviewers
        self.groups = groups
        self.client = gitlab.Gitlab(api_url or DEFAULT_URL, private_token=credentials.token, retry_transient_errors=False)

    def _fail(self, doing: str, exc: Exception) -> ForgeError:
        return ForgeError(self.credentials.redact(f"GitLab {self.project}: {doing} failed: {exc}"))

    def _convert(self, mr: Any) -> PullRequest:
        return PullRequest(repo=self.project, number=int(mr.iid), title=mr.title, body=mr.description or "",
                           head=mr.source_branch, base=mr.target_branch, state=_STATES.get(mr.state, mr.state),
                           url=mr.web_url, head_sha=mr.sha or "", merge_sha=getattr(mr, "merge_commit_sha", "") or "",
                           created_at=mr.created_at or "",
                           reviewers=self.reviewers + tuple(f"group:{g}" for g in self.groups))

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest:
        try:
            project = self.client.projects.get(self.project, lazy=True)
            for existing in project.mergerequests.list(state="opened", source_branch=head, target_branch=base,
                                                       get_all=False):
                return self._convert(existing)
            data: dict[str, Any] = {"source_branch": head, "target_branch": base, "title": title,
                                    "description": body, "remove_source_branch": False}
            ids = [u.id for name in self.reviewers for u in self.client.users.list(username=name, get_all=False)]
            if ids:
                data["reviewer_ids"] = ids
            mr = project.mergerequests.create(data)
            if self.groups:
                group_ids = [self.client.groups.get(g).id for g in self.groups]
                mr.approval_rules.create({"name": "ai-operator reviewers", "approvals_required": 1,
                                          "group_ids": group_ids})
            return self._convert(mr)
        except GitlabError as exc:
            raise self._fail(f"opening a merge request for {head}", exc) from None

    def status(self, number: int) -> PullRequestStatus:
        try:
            project = self.client.projects.get(self.project, lazy=True)
            mr = project.mergerequests.get(number)
            approvals = mr.approvals.get()
            state = _STATES.get(mr.state, mr.state)
            review = ("approved" if getattr(approvals, "approved", False) and approvals.approved_by else
                      "pending" if self.reviewers or self.groups else "none")
            return PullRequestStatus(state, review)
        except GitlabError as exc:
            raise self._fail(f"reading merge request !{number}", exc) from None
