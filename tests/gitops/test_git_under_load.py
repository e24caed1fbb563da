"""Git that holds under load: 20 concurrent committers, push races, idempotence, SSH-signed commits.

Each worker has its own ThreadRepo and its own clone dir (so no shared lock serialises them), and
every worker pushes to the SAME thread branch, so pushes really race and are rejected, fetched,
rebased and retried. Nothing may be lost: all 20 digests and folders end up on the branch.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import git
import pytest

from controller.adapters.gitrepo import ThreadRepo, ensure_bare_repo

pytestmark = pytest.mark.timeout(90)
AUTHOR = ("ai-operator", "ai-operator@localhost")


def digest(i: int) -> str:
    return "sha256:" + f"{i:064x}"


def test_twenty_concurrent_threads_lose_no_commit(tmp_path: Path) -> None:
    url = ensure_bare_repo(tmp_path / "ops.git", None, AUTHOR)

    def work(i: int) -> str:
        repo = ThreadRepo(url, tmp_path / f"clone-{i}", AUTHOR, push_attempts=30)
        folder = f"threads/shared/w{i:02d}"
        result = repo.commit_thread("shared", digest(i), {f"{folder}/plan.yaml": f"worker: {i}\n"}, folder,
                                    subject=f"worker {i}")
        assert result.created
        again = repo.commit_thread("shared", digest(i), {f"{folder}/plan.yaml": "changed\n"}, folder, subject="x")
        assert not again.created  # idempotent by digest, even after others pushed on top
        return result.sha

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(work, range(20)))
    bare = git.Repo(url)
    log = bare.git.log("thread/shared", "--format=%B")
    for i in range(20):
        assert f"Aiop-Plan-Digest: {digest(i)}" in log
        assert bare.git.show(f"thread/shared:threads/shared/w{i:02d}/plan.yaml") == f"worker: {i}"
    assert log.count("Aiop-Thread: shared") == 20


def test_twenty_threads_on_one_clone_cache_and_own_branches(tmp_path: Path) -> None:
    url = ensure_bare_repo(tmp_path / "ops.git", None, AUTHOR)

    def work(i: int) -> str:
        repo = ThreadRepo(url, tmp_path / "cache", AUTHOR)  # one cache: the per-repo lock serialises
        return repo.commit_thread(f"t{i}", digest(i), {f"threads/t{i}/a.yaml": "a: 1\n"}, f"threads/t{i}",
                                  subject=f"t{i}").sha

    with ThreadPoolExecutor(max_workers=20) as pool:
        shas = list(pool.map(work, range(20)))
    bare = git.Repo(url)
    assert [bare.git.rev_parse(f"thread/t{i}") for i in range(20)] == shas


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_commits_are_ssh_signed_with_the_key_from_a_secret(tmp_path: Path) -> None:
    key = tmp_path / "secret" / "signing-key"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "aiop", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{AUTHOR[1]} {(key.parent / 'signing-key.pub').read_text()}")
    url = ensure_bare_repo(tmp_path / "ops.git", None, AUTHOR)
    repo = ThreadRepo(url, tmp_path / "cache", AUTHOR, signing_key=str(key))
    sha = repo.commit_thread("signed", digest(1), {"threads/signed/a.yaml": "a: 1\n"}, "threads/signed",
                             subject="signed").sha
    bare = git.Repo(url)
    bare.git.config("gpg.ssh.allowedSignersFile", str(allowed))
    out = bare.git.verify_commit(sha, "-v", with_extended_output=True)
    assert 'Good "git" signature for ai-operator@localhost' in out[2]
    history = repo.append_history("refs/aiop/history/signed", {"threads/signed/history/revision-0001.json": "{}\n"},
                                  "signed: history")
    out = bare.git.verify_commit(history, "-v", with_extended_output=True)
    assert 'Good "git" signature for ai-operator@localhost' in out[2]  # history commits are signed too
    unsigned = ThreadRepo(url, tmp_path / "cache2", AUTHOR).commit_thread(
        "plain", digest(2), {"threads/plain/a.yaml": "a: 1\n"}, "threads/plain", subject="plain").sha
    with pytest.raises(git.GitCommandError):
        bare.git.verify_commit(unsigned)


def test_history_commits_add_to_the_ref_without_touching_the_clones_work_tree(tmp_path: Path) -> None:
    """Each archive is a commit on the thread's history ref with the earlier files kept and the new ones
    added; the clone's checkout (shared with thread commits) stays exactly as it was, and two clones
    appending to one ref both land (a rejected push is built again on the fetched ref)."""
    url = ensure_bare_repo(tmp_path / "ops.git", None, AUTHOR)
    ref = "refs/aiop/history/t-long"
    repo = ThreadRepo(url, tmp_path / "cache", AUTHOR)
    repo.commit_thread("t-long", digest(1), {"threads/t-long/a.yaml": "a: 1\n"}, "threads/t-long", subject="a")
    clone = git.Repo(repo.workdir)
    head, tree = clone.head.commit.hexsha, sorted(p.name for p in repo.workdir.rglob("*") if ".git" not in p.parts)
    first = repo.append_history(ref, {"threads/t-long/history/revision-0001.json": '{"revision": 1}\n'}, "up to 1")
    other = ThreadRepo(url, tmp_path / "cache-2", AUTHOR).append_history(
        ref, {"threads/t-long/history/revision-0002.json": '{"revision": 2}\n'}, "up to 2")
    third = repo.append_history(ref, {"threads/t-long/history/messages-00001-00040.json": "[]\n",
                                      "threads/t-long/history/revision-0003.json": '{"revision": 3}\n'}, "up to 3")
    bare = git.Repo(url)
    assert bare.git.rev_parse(ref) == third
    assert bare.git.rev_list(ref).split() == [third, other, first]
    assert bare.git.ls_tree("-r", "--name-only", ref).split() == [
        "threads/t-long/history/messages-00001-00040.json", "threads/t-long/history/revision-0001.json",
        "threads/t-long/history/revision-0002.json", "threads/t-long/history/revision-0003.json"]
    assert bare.git.show(f"{ref}:threads/t-long/history/revision-0002.json") == '{"revision": 2}'
    assert bare.git.log("-1", "--format=%s|%an <%ae>", ref) == "up to 3|ai-operator <ai-operator@localhost>"
    assert clone.head.commit.hexsha == head and not clone.is_dirty(untracked_files=True)
    assert sorted(p.name for p in repo.workdir.rglob("*") if ".git" not in p.parts) == tree
