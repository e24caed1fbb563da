"""Where the chart is, found from this file (never from where the repo is checked out)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ai-operator"
