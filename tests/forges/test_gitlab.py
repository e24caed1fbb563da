"""GitLabForge against a local server answering python-gitlab's REST calls (bodies after docs.gitlab.com).

Idempotent merge request per source branch; reviewers by username and an approval rule for the
configured group; state and approvals followed back; PRIVATE-TOKEN header only, never the URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from controller.adapters.forge_auth import ForgeCredentials
from controller.adapters.gitlab_forge import GitLabForge
from tests.forges.fakeforge import FakeForgeServer, Seen

pytestmark = pytest.mark.timeout(60)
TOKEN = "glpat-s3cr3tT0kenValue0000"
PROJECT = "/api/v4/projects/platform%2Fthreads"


class GitLab:
    def __init__(self, server: FakeForgeServer) -> None:
        self.server = server
        self.mrs: dict[int, dict[str, Any]] = {}
        self.approved_by: list[dict[str, Any]] = []
        self.rules: list[dict[str, Any]] = []
        server.route("GET", f"{PROJECT}/merge_requests")(self.list_mrs)
        server.route("POST", f"{PROJECT}/merge_requests")(self.create_mr)
        server.route("GET", f"{PROJECT}/merge_requests/(?P<iid>\\d+)")(self.get_mr)
        server.route("GET", "/api/v4/projects/42/merge_requests/(?P<iid>\\d+)/approvals")(self.approvals)
        server.route("POST", "/api/v4/projects/42/merge_requests/(?P<iid>\\d+)/approval_rules")(self.add_rule)
        server.route("GET", "/api/v4/users")(self.users)
        server.route("GET", "/api/v4/groups/platform%2Fsre")(self.group)

    def list_mrs(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        q = {k: v[0] for k, v in parse_qs(seen.query).items()}
        return 200, [m for m in self.mrs.values() if m["state"] == q.get("state") and
                     m["source_branch"] == q.get("source_branch")]

    def create_mr(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        iid = len(self.mrs) + 1
        b = seen.body
        self.mrs[iid] = {"id": 9000 + iid, "iid": iid, "project_id": 42, "title": b["title"],
                         "description": b["description"], "state": "opened", "source_branch": b["source_branch"],
                         "target_branch": b["target_branch"], "created_at": "2026-11-27T10:00:00.000Z",
                         "web_url": f"https://gitlab.example.com/platform/threads/-/merge_requests/{iid}",
                         "sha": "8888888888888888888888888888888888888888", "merge_commit_sha": None,
                         "reviewers": [{"id": i, "username": "bob"} for i in b.get("reviewer_ids", [])],
                         "author": {"id": 1, "username": "aiop-bot"}}
        return 201, self.mrs[iid]

    def get_mr(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        return 200, self.mrs[int(m["iid"])]

    def approvals(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        return 200, {"id": 9001, "iid": int(m["iid"]), "project_id": 42, "approved": bool(self.approved_by),
                     "approvals_required": 1, "approvals_left": 0 if self.approved_by else 1,
                     "approved_by": self.approved_by}

    def add_rule(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        self.rules.append(seen.body)
        return 201, {"id": 1, "name": seen.body["name"], "approvals_required": seen.body["approvals_required"],
                     "groups": [{"id": g, "full_path": "platform/sre"} for g in seen.body["group_ids"]]}

    def users(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        name = parse_qs(seen.query).get("username", [""])[0]
        return 200, [{"id": 7, "username": name, "name": name.title(), "state": "active"}] if name == "bob" else []

    def group(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        return 200, {"id": 55, "name": "sre", "path": "sre", "full_path": "platform/sre"}


@pytest.fixture
def gitlab_server() -> Iterator[GitLab]:
    with FakeForgeServer() as server:
        yield GitLab(server)


def test_merge_request_reviewers_group_rule_and_state(gitlab_server: GitLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    forge = GitLabForge("platform/threads", ForgeCredentials(token=TOKEN), gitlab_server.server.url,
                        reviewers=("bob",), groups=("platform/sre",))
    mr = forge.open("thread/3f9c2a", "3f9c2a: scale web", "## Plan")
    assert (mr.number, mr.state, mr.head) == (1, "open", "thread/3f9c2a")
    assert mr.url.endswith("/merge_requests/1")
    assert forge.open("thread/3f9c2a", "again", "again").number == 1
    create = next(s for s in gitlab_server.server.seen if s.method == "POST" and s.path.endswith("/merge_requests"))
    assert create.body["reviewer_ids"] == [7]
    assert gitlab_server.rules == [{"name": "ai-operator reviewers", "approvals_required": 1, "group_ids": [55]}]

    assert forge.status(1).state == "open" and forge.status(1).review == "pending"
    gitlab_server.approved_by.append({"user": {"id": 7, "username": "bob"}})
    gitlab_server.mrs[1].update(state="merged", merge_commit_sha="9999999999999999999999999999999999999999")
    status = forge.status(1)
    assert (status.state, status.review) == ("merged", "approved")

    for seen in gitlab_server.server.seen:
        assert seen.headers.get("PRIVATE-TOKEN") == TOKEN
        assert TOKEN not in seen.path + seen.query
    assert TOKEN not in caplog.text
