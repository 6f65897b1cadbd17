from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One figure, always next to the baseline measured in the same run."""

    benchmark: str
    metric: str
    value: float
    baseline_name: str
    baseline: float
    unit: str
    target: str = ""
    higher_is_better: bool = True
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if not self.baseline:
            return float("nan")
        return self.value / self.baseline


@dataclass(frozen=True)
class Benchmark:
    name: str
    func: Callable[..., list[Row]]
    help: str


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, help: str) -> Callable[[Callable[..., list[Row]]], Callable[..., list[Row]]]:
    def register(func: Callable[..., list[Row]]) -> Callable[..., list[Row]]:
        BENCHMARKS[name] = Benchmark(name, func, help)
        return func

    return register
