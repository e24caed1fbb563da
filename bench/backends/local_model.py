"""Footprint of the `local` backend with the test model: `python -m bench.backends.local_model`.

Loads the Gemma 3 270M GGUF (from PyPI) through `LocalChat`, as a controller with a `local`
backend would, and measures in this process:
- RSS (from /proc) of the controller before a `local` backend exists, and of the controller plus the
  model's child process after the model is loaded and after a planner call;
- prompt evaluation (tokens/s): a long prompt, one output token, no prefix shared with the last call;
- generation (tokens/s): a short prompt, `--tokens` output tokens, without a grammar;
- one planner call end to end (the catalog's tools in the prompt, a grammar-constrained JSON reply).
Prints one line per figure and writes bench/results/local_model.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from controller.backends.config import LocalConfig
from controller.backends.local_chat import LocalChat
from controller.backends.tools import planner_tools
from controller.backends.wire import Msg
from tests.backends.llama_server import gguf

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "local_model.json"


def rss_mb(*pids: int | None) -> float:
    """The resident memory of this process and of the given children, in MiB."""
    total = 0.0
    for pid in ("self", *(p for p in pids if p)):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: its own)")
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--tokens", type=int, default=128, help="output tokens of the generation run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, float | int | str | None] = {"threads": args.threads, "context_tokens": args.context}
    with tempfile.TemporaryDirectory(prefix="aiop-local-bench-") as tmp:
        path = gguf(Path(tmp))
        out["rss_before_mb"] = round(rss_mb())
        started = time.monotonic()
        cfg = LocalConfig.model_validate({"name": "gemma", "type": "local", "model_path": str(path),
                                          "context_tokens": args.context, "threads": args.threads,
                                          "max_output_tokens": args.tokens, "timeout_s": 600})
        client = LocalChat(cfg)
        out["load_s"] = round(time.monotonic() - started, 2)
        child = client.worker._process.pid if client.worker._process else None
        out["rss_loaded_mb"] = round(rss_mb(child))
        filler = " ".join(f"item{i} is ready." for i in range(400))
        prompt_rates, gen_rates = [], []
        for run in range(args.runs):
            started = time.monotonic()
            reply = client.complete(f"Run {run}. Answer with one word.", [Msg("user", f"{run} {filler} Done?")],
                                    [], False)
            prompt_rates.append(reply.input_tokens / (time.monotonic() - started))
            started = time.monotonic()
            reply = client.complete("You write long stories.", [Msg("user", f"Story {run}: a ship at sea.")], [],
                                    False)
            gen_rates.append(reply.output_tokens / (time.monotonic() - started))
        out["prompt_tokens_per_s"] = round(sorted(prompt_rates)[len(prompt_rates) // 2])
        out["generation_tokens_per_s"] = round(sorted(gen_rates)[len(gen_rates) // 2], 1)
        planner = LocalChat(cfg.model_copy(update={"max_output_tokens": 256}))
        started = time.monotonic()
        reply = planner.complete("You plan changes to a Kubernetes cluster.",
                                 [Msg("user", "scale the deployment web in namespace shop to 3 replicas")],
                                 planner_tools(), True)
        out["planner_call_s"] = round(time.monotonic() - started, 1)
        out["planner_input_tokens"] = reply.input_tokens
        out["planner_output_tokens"] = reply.output_tokens
        out["planner_via"] = reply.via
        out["planner_calls"] = ", ".join(f"{c.name}({json.dumps(c.arguments)})" for c in reply.tool_calls)[:300]
        out["rss_after_planner_mb"] = round(rss_mb(child))
    for key, value in out.items():
        print(f"{key}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
