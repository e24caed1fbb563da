"""Pull requests. The local forge (the embedded default) keeps them inside the bare repo itself.

A pull request on the local forge is a record (JSON, stored as a git blob under
`refs/aiop/pulls/<n>`), the head ref `refs/pull/<n>/head` and a merge commit of main and the thread
branch under `refs/pull/<n>/merge` (so reviewers can check out exactly what would land). Opening is
idempotent per branch: a second call returns the open pull request. GitHub and GitLab forges
implement the same `Forge` protocol (declared where it is consumed, in the executor).
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import git
from gitdb import IStream

_LOCK = threading.Lock()


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    title: str
    body: str
    head: str
    base: str
    state: str
    url: str
    head_sha: str
    merge_sha: str
    created_at: str
    reviewers: tuple[str, ...] = ()


# Pull request states as the thread records them (links.pullRequests[].state), on every forge.
OPEN = "open"
MERGED = "merged"
CLOSED = "closed"
# Review states: "approved", "changes_requested", "pending" (reviewers asked, no verdict), "none".


@dataclass(frozen=True)
class PullRequestStatus:
    state: str  # open | merged | closed
    review: str = "none"


class LocalForge:
    """Pull requests recorded in a local bare repository."""

    def __init__(self, bare_path: Path, name: str = "ops", reviewers: tuple[str, ...] = ()) -> None:
        self.path = bare_path
        self.name = name
        self.reviewers = reviewers

    def _git(self) -> git.Git:
        return git.Repo(self.path).git

    def list(self) -> list[PullRequest]:
        g = self._git()
        out = g.for_each_ref("refs/aiop/pulls/", "--format=%(refname)")
        prs = []
        for ref in out.splitlines():
            if ref.strip():
                record = json.loads(g.cat_file("-p", ref.strip()))
                prs.append(PullRequest(**{**record, "reviewers": tuple(record.get("reviewers", []))}))
        return sorted(prs, key=lambda p: p.number)

    def open(self, head: str, title: str, body: str, base: str = "main") -> PullRequest:
        with _LOCK:
            for pr in self.list():
                if pr.head == head and pr.state == "open":
                    return pr
            g = self._git()
            head_sha = g.rev_parse(f"refs/heads/{head}")
            base_sha = g.rev_parse(f"refs/heads/{base}")
            tree = g.merge_tree("--write-tree", base_sha, head_sha).splitlines()[0].strip()
            merge_sha = g.commit_tree(tree, "-p", base_sha, "-p", head_sha, "-m", f"Merge {head} into {base}",
                                      env={"GIT_AUTHOR_NAME": "ai-operator", "GIT_AUTHOR_EMAIL": "ai-operator@localhost",
                                           "GIT_COMMITTER_NAME": "ai-operator",
                                           "GIT_COMMITTER_EMAIL": "ai-operator@localhost"})
            number = len(self.list()) + 1
            pr = PullRequest(repo=self.name, number=number, title=title, body=body, head=head, base=base,
                             state="open", url=f"file://{self.path}#pull/{number}", head_sha=head_sha,
                             merge_sha=merge_sha, created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             reviewers=self.reviewers)
            g.update_ref(f"refs/pull/{number}/head", head_sha)
            g.update_ref(f"refs/pull/{number}/merge", merge_sha)
            self._save(pr)
            return pr

    def _save(self, pr: PullRequest) -> None:
        data = json.dumps({**asdict(pr), "reviewers": list(pr.reviewers)}, indent=2).encode()
        blob = git.Repo(self.path).odb.store(IStream(git.Blob.type, len(data), io.BytesIO(data))).hexsha.decode()
        self._git().update_ref(f"refs/aiop/pulls/{pr.number}", blob)

    def get(self, number: int) -> PullRequest | None:
        return next((p for p in self.list() if p.number == number), None)

    def status(self, number: int) -> PullRequestStatus:
        pr = self.get(number)
        if pr is None:
            return PullRequestStatus(CLOSED, "none")
        return PullRequestStatus(pr.state, "approved" if pr.state == MERGED else
                                 ("pending" if pr.reviewers else "none"))

    def merge(self, number: int) -> PullRequest:
        """Land a pull request: main moves to its merge commit (what a reviewer does on a real forge)."""
        with _LOCK:
            pr = self.get(number)
            if pr is None or pr.state != OPEN:
                raise ValueError(f"pull request {number} is not open")
            self._git().update_ref(f"refs/heads/{pr.base}", pr.merge_sha)
            merged = PullRequest(**{**asdict(pr), "state": MERGED, "reviewers": pr.reviewers})
            self._save(merged)
            return merged

    def close(self, number: int) -> PullRequest:
        with _LOCK:
            pr = self.get(number)
            if pr is None:
                raise ValueError(f"no pull request {number}")
            closed = PullRequest(**{**asdict(pr), "state": CLOSED, "reviewers": pr.reviewers})
            self._save(closed)
            return closed
