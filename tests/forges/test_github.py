"""GitHubForge against a local server answering PyGithub's REST calls (bodies after docs.github.com).

Token and GitHub App installation auth; idempotent open; reviewers and team reviewers requested;
merge and review state followed back; the token never in a URL, an error or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controller.adapters.forge_auth import ForgeCredentials
from controller.adapters.github_forge import ForgeError, GitHubForge
from tests.forges.fakeforge import FakeForgeServer, Seen

pytestmark = pytest.mark.timeout(60)
TOKEN = "ghp_s3cr3tT0kenValue000000000000000000"
INSTALLATION_TOKEN = "ghs_installationT0ken0000000000000000"


class GitHub:
    """State behind the fake: pull requests of example-org/platform-threads."""

    def __init__(self, server: FakeForgeServer) -> None:
        self.server = server
        self.pulls: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        base = "/repos/example-org/platform-threads"
        server.route("GET", base)(self.repo)
        server.route("GET", f"{base}/pulls")(self.list_pulls)
        server.route("POST", f"{base}/pulls")(self.create_pull)
        server.route("GET", f"{base}/pulls/(?P<n>\\d+)")(self.get_pull)
        server.route("POST", f"{base}/pulls/(?P<n>\\d+)/requested_reviewers")(self.request_reviewers)
        server.route("GET", f"{base}/pulls/(?P<n>\\d+)/reviews")(self.list_reviews)
        server.route("POST", "/app/installations/(?P<id>\\d+)/access_tokens")(self.access_token)

    def api(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def repo(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        return 200, {"id": 1296269, "name": "platform-threads", "full_name": "example-org/platform-threads",
                     "owner": {"login": "example-org", "id": 1, "type": "Organization"}, "private": True,
                     "html_url": "https://github.com/example-org/platform-threads", "default_branch": "main",
                     "url": self.api("/repos/example-org/platform-threads")}

    def _pull(self, n: int) -> dict[str, Any]:
        return self.pulls[n]

    def list_pulls(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        head = parse_qs(seen.query).get("head", [""])[0]
        return 200, [p for p in self.pulls.values()
                     if p["state"] == "open" and f"example-org:{p['head']['ref']}" == head]

    def create_pull(self, seen: Seen, _: dict[str, str]) -> tuple[int, Any]:
        n = len(self.pulls) + 1
        body = seen.body
        self.pulls[n] = {
            "url": self.api(f"/repos/example-org/platform-threads/pulls/{n}"), "id": 1000 + n, "number": n,
            "state": "open", "locked": False, "title": body["title"], "body": body["body"],
            "html_url": f"https://github.com/example-org/platform-threads/pull/{n}",
            "user": {"login": "aiop-bot[bot]"}, "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z",
            "merged": False, "merge_commit_sha": None, "draft": False,
            "head": {"label": f"example-org:{body['head']}", "ref": body["head"], "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
            "base": {"label": "example-org:main", "ref": body["base"], "sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6"},
            "requested_reviewers": [], "requested_teams": []}
        return 201, self.pulls[n]

    def get_pull(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        return 200, self._pull(int(m["n"]))

    def request_reviewers(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        pr = self._pull(int(m["n"]))
        pr["requested_reviewers"] = [{"login": r} for r in seen.body.get("reviewers", [])]
        pr["requested_teams"] = [{"slug": t} for t in seen.body.get("team_reviewers", [])]
        return 201, pr

    def list_reviews(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        return 200, self.reviews.get(int(m["n"]), [])

    def access_token(self, seen: Seen, m: dict[str, str]) -> tuple[int, Any]:
        return 201, {"token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z",
                     "permissions": {"pull_requests": "write", "contents": "write"}, "repository_selection": "selected"}


@pytest.fixture
def github() -> Iterator[GitHub]:
    with FakeForgeServer() as server:
        yield GitHub(server)


def test_token_open_is_idempotent_requests_reviewers_and_follows_state(github: GitHub,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    forge = GitHubForge("example-org/platform-threads", ForgeCredentials(token=TOKEN), github.server.url, throttle=False,
                        reviewers=("alice",), team_reviewers=("platform-sre",))
    pr = forge.open("thread/3f9c2a", "3f9c2a: scale web", "## Plan\n- scale web to 3")
    assert (pr.number, pr.state, pr.head, pr.base) == (1, "open", "thread/3f9c2a", "main")
    assert pr.url == "https://github.com/example-org/platform-threads/pull/1"
    assert forge.open("thread/3f9c2a", "again", "again").number == 1  # idempotent per branch
    assert len(github.pulls) == 1
    review_call = next(s for s in github.server.seen if s.path.endswith("/requested_reviewers"))
    assert review_call.body == {"reviewers": ["alice"], "team_reviewers": ["platform-sre"]}

    assert forge.status(1).state == "open" and forge.status(1).review == "pending"
    github.reviews[1] = [{"id": 80, "user": {"login": "alice"}, "state": "CHANGES_REQUESTED", "body": "no"},
                         {"id": 81, "user": {"login": "alice"}, "state": "APPROVED", "body": "ok"}]
    assert forge.status(1).review == "approved"  # the latest review of each reviewer counts
    github.pulls[1].update(state="closed", merged=True, merge_commit_sha="e5bd3914e2e596debea16f433f57875b5b90bcd6")
    assert forge.status(1).state == "merged"

    for seen in github.server.seen:
        assert seen.headers.get("Authorization") == f"token {TOKEN}" or seen.headers.get(
            "Authorization") == f"Bearer {TOKEN}"
        assert TOKEN not in seen.path + seen.query
    assert TOKEN not in caplog.text and TOKEN not in repr(forge.credentials)


def test_errors_name_the_call_but_never_the_token(github: GitHub) -> None:
    forge = GitHubForge("example-org/missing", ForgeCredentials(token=TOKEN), github.server.url, throttle=False)
    with pytest.raises(ForgeError) as err:
        forge.open("thread/x", "t", "b")
    assert "example-org/missing" in str(err.value) and TOKEN not in str(err.value)


def test_github_app_installation_token(github: GitHub) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    forge = GitHubForge("example-org/platform-threads",
                        ForgeCredentials(app_id="12345", app_key=pem, installation_id="678"), github.server.url,
                        throttle=False)
    forge.open("thread/app", "app", "body")
    token_call = next(s for s in github.server.seen if s.path == "/app/installations/678/access_tokens")
    scheme, _, assertion = token_call.headers["Authorization"].partition(" ")
    claims = jwt.decode(assertion, key.public_key(), algorithms=["RS256"])
    assert scheme == "Bearer" and str(claims["iss"]) == "12345"
    repo_calls = [s for s in github.server.seen if s.path.startswith("/repos/")]
    assert repo_calls and all(INSTALLATION_TOKEN in s.headers["Authorization"] for s in repo_calls)
    assert all(INSTALLATION_TOKEN not in s.path + s.query for s in github.server.seen)
