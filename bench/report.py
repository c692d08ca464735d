"""Medians over the runs, goals, the printed table and the JSON record."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Metric:
    """One line of the table: a figure, the baseline it is compared with, and a goal.

    ``goal_on`` says whether the goal applies to the ratio (value / baseline) or to the value
    itself; ``at_most`` whether the goal is a ceiling (latency) or a floor (throughput).
    """

    name: str
    unit: str
    goal_on: str
    # None: shown for information, no goal.
    goal: float | None
    at_most: bool
    values: list[float] = field(default_factory=list)
    baselines: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, value: float, baseline: float, errors: int = 0) -> None:
        self.values.append(value)
        self.baselines.append(baseline)
        self.errors += errors

    @property
    def value(self) -> float:
        return statistics.median(self.values)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baselines)

    @property
    def ratio(self) -> float:
        # Each run's value against the baseline measured in that same run, then the median:
        # a slow run slows both sides and should not move the ratio.
        return statistics.median(v / b for v, b in zip(self.values, self.baselines, strict=True))

    @property
    def passed(self) -> bool:
        if self.goal is None:
            return self.errors == 0
        measured = self.ratio if self.goal_on == "ratio" else self.value
        within = measured <= self.goal if self.at_most else measured >= self.goal
        return within and self.errors == 0

    def goal_text(self) -> str:
        if self.goal is None:
            return "-"
        subject = "ratio" if self.goal_on == "ratio" else self.unit
        sign = "<=" if self.at_most else ">="
        return f"{subject} {sign} {self.goal:g}"


def _figure(x: float, unit: str) -> str:
    return f"{x:,.3f} {unit}" if unit == "ms" else f"{x:,.0f} {unit}"


def _verdict(m: Metric) -> str:
    if not m.passed:
        return "FAIL"
    return "info" if m.goal is None else "pass"


def render(metrics: list[Metric]) -> str:
    header = ("metric", "value", "baseline", "ratio", "goal", "errors", "result")
    rows = [header] + [
        (m.name, _figure(m.value, m.unit), _figure(m.baseline, m.unit), f"{m.ratio:.2f}", m.goal_text(),
         str(m.errors), _verdict(m))
        for m in metrics
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    # The metric name left-aligned, every figure right-aligned.
    lines = ["  ".join([row[0].ljust(widths[0]),
                        *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))])
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, metrics: list[Metric], context: dict[str, Any]) -> None:
    record = {
        **context,
        "metrics": [
            {"name": m.name, "unit": m.unit, "value": m.value, "baseline": m.baseline, "ratio": m.ratio,
             "goal": m.goal_text(), "passed": m.passed, "errors": m.errors,
             "runs": [{"value": v, "baseline": b} for v, b in zip(m.values, m.baselines, strict=True)]}
            for m in metrics
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
