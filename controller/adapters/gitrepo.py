"""The dedicated repo: thread branches, idempotent commits, revert commits, pushes that retry.

Git is the record (principle 5). Every executed change is first a commit on `thread/<id>` with
trailers naming the thread and the plan digest; the digest trailer is how we know, from git itself,
that a digest was already committed, so a controller killed after its commit never commits twice.
Restore is a new commit that brings the thread folder back to the pre-chat tree: never a force-push.

Work happens in a clone cache under $AIOP_HOME/repos/work/, one lock per repo, so concurrent
threads never interleave index operations. A rejected push is fetched, rebased and retried with a
jittered backoff (several controllers, or several clone dirs, may push to one branch at once); a
rebase that stops is aborted so the clone is never left half-way, and the next attempt starts
from the fetched remote again.

Credentials reach git as an `http.extraHeader` in the environment (never in the URL, so never in
`.git/config` or an error message). Commits are optionally signed with an SSH key mounted from a
Secret (`gpg.format=ssh`, `user.signingkey`, `commit.gpgsign`): rebased commits are signed too.
"""

from __future__ import annotations

import random
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import git

from controller.api.constants import BRANCH_PREFIX, TRAILER_DIGEST, TRAILER_THREAD

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


_GIT_TRANSIENT = re.compile(
    r"could not resolve|connection (refused|reset|timed out)|timed out|unable to access|early eof|"
    r"remote end hung up|returned error: 5\d\d|\b50[0234]\b|temporar|rpc failed|cannot lock ref|"
    r"unable to create .*\.lock", re.IGNORECASE)


class GitError(Exception):
    """A git operation failed; the message says which and why."""

    @property
    def transient(self) -> bool:
        """A remote that could not be reached (or was busy) may work later; a refusal will not."""
        return bool(_GIT_TRANSIENT.search(str(self)))


@dataclass(frozen=True)
class CommitResult:
    sha: str
    created: bool  # False when the digest had been committed before


def ensure_bare_repo(path: Path, template: Path | None, author: tuple[str, str]) -> str:
    """Create the local bare repo (the embedded default), seeded with the template on `main`."""
    if (path / "HEAD").exists():
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    git.Repo.init(path, bare=True, initial_branch="main")
    seed = path.parent / f".seed-{path.name}-{int(time.time() * 1000)}"
    repo = git.Repo.init(seed, initial_branch="main")
    if template is not None and template.is_dir():
        shutil.copytree(template, seed, dirs_exist_ok=True, ignore=shutil.ignore_patterns("instructions-repo"))
    else:
        (seed / "threads").mkdir(exist_ok=True)
        (seed / "threads" / ".gitkeep").write_text("")
        (seed / "README.md").write_text("# ai-operator repo\n")
    repo.git.add(A=True)
    repo.git.commit(m="Initial layout", author=f"{author[0]} <{author[1]}>",
                    env={"GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1]})
    repo.git.push(str(path), "main:main")
    shutil.rmtree(seed, ignore_errors=True)
    return str(path)


class ThreadRepo:
    """One remote repo, worked on through a cached clone."""

    def __init__(self, url: str, cache_dir: Path, author: tuple[str, str], name: str = "ops",
                 signing_key: str = "", auth_env: dict[str, str] | None = None, push_attempts: int = 8) -> None:
        self.url = url
        self.name = name
        self.workdir = cache_dir / name
        self.author = author
        self.signing_key = signing_key
        self._auth_env = dict(auth_env or {})
        self.push_attempts = push_attempts
        self._configured = False
        self._lock = _lock_for(str(self.workdir))

    def __repr__(self) -> str:
        return f"ThreadRepo({self.url!r}, {str(self.workdir)!r})"

    # --------------------------------------------------------------------------------- helpers

    def _env(self) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": self.author[0], "GIT_AUTHOR_EMAIL": self.author[1],
                "GIT_COMMITTER_NAME": self.author[0], "GIT_COMMITTER_EMAIL": self.author[1],
                "GIT_TERMINAL_PROMPT": "0", **self._auth_env}

    def _scrub(self, text: str) -> str:
        for value in self._auth_env.values():
            if value.startswith("Authorization:"):
                text = text.replace(value, "Authorization: ***").replace(value.split()[-1], "***")
        return text.strip()

    def _configure(self, repo: git.Repo) -> None:
        self._configured = True
        with repo.config_writer() as cfg:
            cfg.set_value("user", "name", self.author[0])
            cfg.set_value("user", "email", self.author[1])
            if self.signing_key:
                cfg.set_value("gpg", "format", "ssh")
                cfg.set_value("user", "signingkey", self.signing_key)
                cfg.set_value("commit", "gpgsign", "true")

    def _repo(self) -> git.Repo:
        if not (self.workdir / ".git").exists():
            self.workdir.parent.mkdir(parents=True, exist_ok=True)
            try:
                repo = git.Repo.clone_from(self.url, self.workdir, env=self._env())
            except git.GitCommandError as exc:
                raise GitError(f"cannot clone {self.url}: {self._scrub(exc.stderr)}") from None
            self._configure(repo)
            return repo
        repo = git.Repo(self.workdir)
        if not self._configured:
            self._configure(repo)
        try:
            repo.git.fetch("origin", "--prune", env=self._env())
        except git.GitCommandError as exc:
            raise GitError(f"cannot fetch {self.url}: {self._scrub(exc.stderr)}") from None
        return repo

    @staticmethod
    def branch(thread_id: str) -> str:
        return f"{BRANCH_PREFIX}{thread_id}"

    def _remote_sha(self, repo: git.Repo, branch: str) -> str | None:
        try:
            return str(repo.git.rev_parse(f"refs/remotes/origin/{branch}"))
        except git.GitCommandError:
            return None

    def _checkout(self, repo: git.Repo, branch: str, base: str) -> None:
        remote = self._remote_sha(repo, branch)
        start = f"origin/{branch}" if remote else base
        repo.git.checkout("-B", branch, start)
        repo.git.reset("--hard", start)
        repo.git.clean("-fdx")

    def _push(self, repo: git.Repo, branch: str) -> None:
        """Push HEAD; when rejected (someone else pushed first), fetch, rebase onto theirs, retry."""
        for attempt in range(self.push_attempts):
            try:
                repo.git.push("origin", f"HEAD:refs/heads/{branch}", env=self._env())
                return
            except git.GitCommandError as exc:
                if attempt == self.push_attempts - 1:
                    raise GitError(f"push of {branch} to {self.url} failed: {self._scrub(exc.stderr)}") from None
            time.sleep(random.uniform(0.05, 0.15) * (attempt + 1))  # jitter: racing pushers spread out
            try:
                repo.git.fetch("origin", env=self._env())
                if self._remote_sha(repo, branch):
                    repo.git.rebase(f"origin/{branch}", env=self._env())
            except git.GitCommandError as exc:
                try:
                    repo.git.rebase("--abort")
                except git.GitCommandError:
                    pass
                raise GitError(f"rebase of {branch} onto {self.url} failed: {self._scrub(exc.stderr)}") from None

    # ------------------------------------------------------------------------------- queries

    def main_head(self) -> str:
        with self._lock:
            repo = self._repo()
            return str(repo.git.rev_parse("origin/main"))

    def find_digest(self, thread_id: str, digest: str) -> str | None:
        """The commit on the thread branch that carries this plan digest, if any."""
        with self._lock:
            return self._find_digest(self._repo(), thread_id, digest)

    def _find_digest(self, repo: git.Repo, thread_id: str, digest: str) -> str | None:
        branch = self.branch(thread_id)
        if not self._remote_sha(repo, branch):
            return None
        out = repo.git.log(f"origin/{branch}", "--format=%H", f"--grep={TRAILER_DIGEST}: {digest}", "--fixed-strings")
        shas = [line for line in out.splitlines() if line.strip()]
        return shas[0] if shas else None

    def fork_point(self, thread_id: str) -> str:
        """Where the thread branch left main (its pre-chat commit in this repo); '' without a branch."""
        with self._lock:
            repo = self._repo()
            if not self._remote_sha(repo, self.branch(thread_id)):
                return ""
            return str(repo.git.merge_base("origin/main", f"origin/{self.branch(thread_id)}"))

    def branch_exists(self, thread_id: str) -> bool:
        with self._lock:
            return self._remote_sha(self._repo(), self.branch(thread_id)) is not None

    def read_file(self, ref: str, path: str) -> str | None:
        with self._lock:
            repo = self._repo()
            try:
                return str(repo.git.show(f"{ref}:{path}"))
            except git.GitCommandError:
                return None

    # -------------------------------------------------------------------------------- writes

    def commit_thread(self, thread_id: str, digest: str, files: dict[str, str], folder: str,
                      subject: str, body: str = "") -> CommitResult:
        """Write the thread folder and commit it once per digest (replacing the folder's content)."""
        with self._lock:
            repo = self._repo()
            existing = self._find_digest(repo, thread_id, digest)
            if existing:
                return CommitResult(existing, created=False)
            branch = self.branch(thread_id)
            self._checkout(repo, branch, "origin/main")
            target = self.workdir / folder
            if target.exists():
                shutil.rmtree(target)
            for rel, content in files.items():
                path = self.workdir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
            repo.git.add("-A", folder)
            trailers = f"{TRAILER_THREAD}: {thread_id}\n{TRAILER_DIGEST}: {digest}"
            message = f"{subject}\n\n{body.strip()}\n\n{trailers}\n" if body.strip() else f"{subject}\n\n{trailers}\n"
            repo.git.commit("--allow-empty", "-m", message, env=self._env())
            self._push(repo, branch)
            return CommitResult(str(repo.head.commit.hexsha), created=True)

    def restore_commit(self, thread_id: str, pre_chat: str, folder: str, subject: str) -> CommitResult:
        """A new commit on the thread branch whose thread folder equals the pre-chat tree (a revert)."""
        with self._lock:
            repo = self._repo()
            branch = self.branch(thread_id)
            if not self._remote_sha(repo, branch):
                return CommitResult(pre_chat, created=False)
            self._checkout(repo, branch, "origin/main")
            head = repo.head.commit
            marker = f"{TRAILER_THREAD}: {thread_id}\nAiop-Restore: {pre_chat}"
            if marker in head.message:
                return CommitResult(str(head.hexsha), created=False)
            repo.git.checkout(pre_chat, "--", ".")
            target = self.workdir / folder
            if target.exists() and not _exists_in(repo, pre_chat, folder):
                shutil.rmtree(target)
            repo.git.add("-A")
            reverted = repo.git.log(f"{pre_chat}..HEAD", "--format=%h").split()
            body = "Reverts " + ", ".join(reverted) if reverted else "Nothing to revert."
            repo.git.commit("--allow-empty", "-m", f"{subject}\n\n{body}\n\n{marker}\n", env=self._env())
            self._push(repo, branch)
            return CommitResult(str(repo.head.commit.hexsha), created=True)


    def append_history(self, ref: str, files: dict[str, str], subject: str) -> str:
        """Add files in a new commit on a history ref (not a branch: no GitOps tool or forge follows it).

        Why a separate ref: a long thread's older plan revisions and messages must leave the custom
        resource (etcd's size limit) but stay in the record; on the thread branch they would end up
        in the pull request and be synced with the manifests.

        The commit is built without a checkout (a scratch index, `write-tree`, `commit-tree`, signed with
        the same key as every other commit): checking the ref out wrote every earlier history file into
        the clone and removed them again, so each archive of a 500-turn thread cost ≈0.7 s and grew with
        the thread.
        """
        with self._lock:
            repo = self._repo()
            for attempt in range(self.push_attempts):
                try:
                    repo.git.fetch("origin", f"+{ref}:refs/remotes/origin-history/{ref}", env=self._env())
                    base: str | None = f"refs/remotes/origin-history/{ref}"
                except git.GitCommandError:
                    base = None  # the ref does not exist yet
                sha = self._commit_files(repo, base, files, subject)
                try:
                    repo.git.push("origin", f"{sha}:{ref}", env=self._env())
                    return sha
                except git.GitCommandError as exc:
                    if attempt == self.push_attempts - 1:
                        raise GitError(f"push of {ref} to {self.url} failed: {self._scrub(exc.stderr)}") from None
                    time.sleep(random.uniform(0.05, 0.15) * (attempt + 1))
            raise GitError(f"push of {ref} to {self.url} failed")  # unreachable: the loop returns or raises

    def _commit_files(self, repo: git.Repo, base: str | None, files: dict[str, str], subject: str) -> str:
        """A commit of `base`'s tree (or an empty one) plus `files`, made in a scratch index of the clone."""
        scratch = Path(repo.git_dir) / "aiop-history"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        try:
            env = {**self._env(), "GIT_INDEX_FILE": str(scratch / "index")}
            repo.git.read_tree(base or "--empty", env=env)
            blobs = [scratch / str(n) for n in range(len(files))]
            for blob, content in zip(blobs, files.values(), strict=True):
                blob.write_text(content, encoding="utf-8")
            shas = repo.git.hash_object("-w", "--no-filters", *map(str, blobs)).split()
            entries = [arg for sha, rel in zip(shas, files, strict=True)
                       for arg in ("--cacheinfo", f"100644,{sha},{rel}")]
            repo.git.update_index("--add", *entries, env=env)
            tree = repo.git.write_tree(env=env)
            signed = ["-S"] if self.signing_key else []  # commit-tree does not read commit.gpgsign
            return str(repo.git.commit_tree(tree, *(["-p", base] if base else []), *signed, "-m", subject,
                                            env=self._env()))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _exists_in(repo: git.Repo, ref: str, path: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{ref}:{path}")
        return True
    except git.GitCommandError:
        return False
