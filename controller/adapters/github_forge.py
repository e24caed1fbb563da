"""GitHub pull requests through PyGithub, authenticated with a token or as a GitHub App installation.

Opening is idempotent per head branch (an open pull request for the branch is returned, as on the
local forge), so a controller restarted after opening never opens a second one. Reviewers and
team reviewers from the configuration are requested on the pull request ("merged by a group of
users" is a team plus a branch protection rule that requires its review). Status follows the pull
request's merge state and the latest review of each reviewer.
"""

from __future__ import annotations

from github import Auth, Github, GithubException
from github.PullRequest import PullRequest as GhPull

from controller.adapters.forge import CLOSED, MERGED, OPEN, PullRequest, PullRequestStatus
from controller.adapters.forge_auth import ForgeCredentials

DEFAULT_API = "https://api.github.com"


class ForgeError(Exception):
    """A forge call failed; the message never holds a credential."""


class GitHubForge:
    def __init__(self, project: str, credentials: ForgeCredentials, api_url: str = "",
                 reviewers: tuple[str, ...] = (), team_reviewers: tuple[str, ...] = (), throttle: bool = True) -> None:
        self.project = project
        self.name = project
        self.credentials = credentials
        self.reviewers = reviewers
        self.team_reviewers = team_reviewers
        auth: Auth.Auth
        if credentials.app_id and credentials.app_key:
            auth = Auth.AppAuth(credentials.app_id, credentials.app_key).get_installation_auth(
                int(credentials.installation_id))
        else:
            auth = Auth.Token(credentials.token)
        # GitHub asks integrators to space out writes (secondary rate limits); tests turn that off.
        if throttle:
            self.client = Github(auth=auth, base_url=api_url or DEFAULT_API, retry=None)
        else:
            self.client = Github(auth=auth, base_url=api_url or DEFAULT_API, retry=None,
                                 seconds_between_requests=None, seconds_between_writes=None)

    def _fail(self, doing: str, exc: Exception) -> ForgeError:
        return ForgeError(self.credentials.redact(f"GitHub {self.project}: {doing} failed: {exc}"))

    def _convert(self, pr: GhPull) -> PullRequest:
        state = MERGED if pr.merged else (OPEN if pr.state == "open" else CLOSED)
        return PullRequest(repo=self.project, number=pr.number, title=pr.title, body=pr.body or "",
                           head=pr.head.ref, base=pr.base.ref, state=state, url=pr.html_url,
                           head_sha=pr.head.sha, merge_sha=pr.merge_commit_sha or "",
                           created_at=pr.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if pr.created_at else "",
                           reviewers=self.reviewers + tuple(f"team:{t}" for t in self.team_reviewers))

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest:
        try:
            repo = self.client.get_repo(self.project)
            owner = self.project.split("/", 1)[0]
            for existing in repo.get_pulls(state="open", head=f"{owner}:{head}", base=base):
                return self._convert(existing)
            pr = repo.create_pull(base=base, head=head, title=title, body=body)
            if self.reviewers or self.team_reviewers:
                pr.create_review_request(reviewers=list(self.reviewers), team_reviewers=list(self.team_reviewers))
            return self._convert(pr)
        except GithubException as exc:
            raise self._fail(f"opening a pull request for {head}", exc) from None

    def status(self, number: int) -> PullRequestStatus:
        try:
            pr = self.client.get_repo(self.project).get_pull(number)
            latest: dict[str, str] = {}
            for item in pr.get_reviews():
                if item.state in {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}:
                    latest[item.user.login if item.user else ""] = item.state
            verdicts = set(latest.values())
            review = ("changes_requested" if "CHANGES_REQUESTED" in verdicts else
                      "approved" if "APPROVED" in verdicts else
                      "pending" if self.reviewers or self.team_reviewers else "none")
            state = MERGED if pr.merged else (OPEN if pr.state == "open" else CLOSED)
            return PullRequestStatus(state, review)
        except GithubException as exc:
            raise self._fail(f"reading pull request {number}", exc) from None
