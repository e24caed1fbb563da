"""How much of the public eval a real small model plans: `python -m bench.backends.real_model_eval`.

Runs the scenarios exactly as `aiop eval --backends FILE` does (a fresh sandbox, home, repo and the
real controller per scenario), with llama.cpp's server and the Gemma 3 270M GGUF from PyPI as the
backend of every role (or the embedded `local` backend: `--local`), and counts, over every planning
round of every scenario, who made the plan the person saw:

- `model`: the planner call of the real model was accepted (validated, then policy-checked);
- `fallback`: the model failed (refused shape, time-out, invalid twice) and the offline planner answered;
- `budget`: a budget or the loop breaker stopped the AI calls.

Why not just `aiop eval`: its workers run in other processes and delete their homes; the thread's
audit (`aiCalls`, findings) is read here before the sandbox goes away. Prints one line per scenario
and the totals, and writes bench/results/real_model_eval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from controller.tools.evals import ScenarioRun, Unmet
from controller.tools.scenario import load_scenario, scenario_files
from tests.backends.llama_server import LlamaServer, gguf

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "real_model_eval.json"


class AuditedRun(ScenarioRun):
    """A scenario run that keeps the conversation's status when it ends (passed or not)."""

    status: dict[str, Any]

    def _play(self, server: Any) -> None:
        self.status = {}
        try:
            super()._play(server)
        finally:
            try:
                self.status = self._conversation().get("status") or {}
            except Exception:  # the sandbox may be the thing that failed
                self.status = {}


def origins(status: dict[str, Any], backend: str) -> list[str]:
    """Who planned each revision: model, fallback or budget."""
    out = []
    for revision in status.get("revisions") or []:
        findings = " ".join(revision.get("findings") or [])
        calls = revision.get("aiCalls") or []
        if "budget" in findings or any(c.get("backend") == "offline" and "budget" in c.get("detail", "")
                                       for c in calls):
            out.append("budget")
        elif "fallback: the AI planners failed" in findings:
            out.append("fallback")
        elif any(c.get("backend") == backend and c.get("role") == "planner" and c.get("outcome") == "ok"
                 for c in calls):
            out.append("model")
        else:
            out.append("other")
    return out


def backends_file(folder: Path, url: str | None, model: Path, timeout: float, every_role: bool) -> Path:
    entry: dict[str, Any] = ({"name": "gemma", "type": "openai", "base_url": url, "model": "gemma3-270m"}
                             if url else {"name": "gemma", "type": "local", "model_path": str(model)})
    entry.update({"timeout_s": timeout, "max_retries": 0, "max_output_tokens": 256})
    roles = ({"router": "gemma", "planner": "gemma", "reviewer": "gemma", "summarizer": "gemma"} if every_role
             else {"planner": "gemma"})
    path = folder / "backends.yaml"
    path.write_text(yaml.safe_dump({"backends": [entry], "roles": roles}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT.parent / "shared" / "eval" / "scenarios"])
    parser.add_argument("--local", action="store_true", help="the embedded local backend instead of the server")
    parser.add_argument("--timeout", type=float, default=300.0, help="timeout_s of the backend")
    parser.add_argument("--every-role", action="store_true", help="the model also routes, reviews and summarises")
    parser.add_argument("--turn-timeout", type=float, default=300.0, help="seconds a turn may take to settle")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    totals = {"model": 0, "fallback": 0, "budget": 0, "other": 0}
    with tempfile.TemporaryDirectory(prefix="aiop-real-eval-") as tmp:
        model = gguf(Path(tmp) / "gguf")
        server = None if args.local else LlamaServer(model).__enter__()
        try:
            os.environ["AIOP_BACKENDS"] = str(backends_file(Path(tmp), server.url if server else None, model,
                                                            args.timeout, args.every_role))
            os.environ.setdefault("AIOP_LOG_LEVEL", "CRITICAL")
            for path in scenario_files(args.paths):
                scenario = load_scenario(path)
                started = time.monotonic()
                with tempfile.TemporaryDirectory(prefix="aiop-eval-") as home:
                    run = AuditedRun(scenario, Path(home))
                    run.settle_s = args.turn_timeout
                    try:
                        result = run.run()
                        passed, reason = result.passed, result.reason
                    except (Unmet, Exception) as exc:
                        passed, reason = False, f"crashed: {exc}"
                status = getattr(run, "status", {})
                found = origins(status, "gemma")
                proposed = [str(r.get("summary") or r.get("answer") or "")[:200] for r in status.get("revisions") or []]
                fallbacks = [f[:300] for r in status.get("revisions") or [] for f in r.get("findings") or []
                             if f.startswith("fallback:")]
                if server is not None and server.proc is not None and server.proc.poll() is not None:
                    # a crash of the server is a finding, and must not turn the rest of the run into fallbacks
                    fallbacks.append(f"the llama.cpp server ended (exit code {server.proc.returncode}): "
                                     + " | ".join(line for line in server.log[-12:] if "error" in line.lower())[:500])
                    server = LlamaServer(model).__enter__()
                    os.environ["AIOP_BACKENDS"] = str(backends_file(Path(tmp), server.url, model, args.timeout,
                                                                    args.every_role))
                for o in found:
                    totals[o] += 1
                rows.append({"scenario": scenario.name, "passed": passed, "reason": reason, "plans": found,
                             "proposed": proposed, "fallbacks": fallbacks,
                             "seconds": round(time.monotonic() - started, 1)})
                print(f"{'PASS' if passed else 'FAIL'} {scenario.name}: plans {found} "
                      f"({rows[-1]['seconds']} s){'' if passed else ' - ' + reason[:120]}", flush=True)
                write(args.local, totals, rows)
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    rounds = sum(totals.values())
    print(f"{sum(r['passed'] for r in rows)} passed, {sum(not r['passed'] for r in rows)} failed; "
          f"planning rounds {rounds}: model {totals['model']}, offline fallback {totals['fallback']}, "
          f"budget stop {totals['budget']}, other {totals['other']}")



def write(local: bool, totals: dict[str, int], rows: list[dict[str, Any]]) -> None:
    """After each scenario, so a run stopped early keeps what it measured."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"backend": "local" if local else "llama.cpp server", "totals": totals,
                                   "scenarios": rows}, indent=2))


if __name__ == "__main__":
    main()
