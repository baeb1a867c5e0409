"""The numbers of the alert rules, apart from the code that applies them (asaas.timeline.alerts),
so that the command line can show their defaults without importing pandas and ruptures."""

from __future__ import annotations

from dataclasses import dataclass

from asaas.errors import AsaasError

KINDS = ("negative", "volume", "shift")


class AlertError(AsaasError):
    """Alert options or an alert id that cannot be used."""


@dataclass(frozen=True)
class AlertRule:
    """Every number of the alert rules (their meaning: the docstring of asaas.timeline.alerts)."""

    baseline_days: int = 28
    min_history_days: int = 14
    z: float = 5.0
    min_negative: int = 10
    volume_z: float = 8.0
    min_volume: int = 20
    merge_gap_days: int = 1
    platform_share: float = 0.1
    platform_min_products: int = 10
    cp_penalty: float = 4.0
    cp_alpha: float = 0.01
    kinds: tuple[str, ...] = KINDS

    def check(self) -> AlertRule:
        problems = []
        if self.baseline_days < 2:
            problems.append("--baseline-days must be at least 2")
        if not 1 <= self.min_history_days <= self.baseline_days:
            problems.append("--min-history-days must be between 1 and --baseline-days")
        if self.z <= 0 or self.volume_z <= 0:
            problems.append("--z and --volume-z must be positive")
        if self.min_negative < 1 or self.min_volume < 1:
            problems.append("--min-negative and --min-volume must be at least 1")
        if self.merge_gap_days < 0:
            problems.append("--merge-gap-days must be 0 or more")
        if not 0 < self.platform_share <= 1:
            problems.append("--platform-share must be in (0, 1]")
        if self.cp_penalty <= 0:
            problems.append("--cp-penalty must be positive")
        if not 0 < self.cp_alpha < 1:
            problems.append("cp_alpha must be in (0, 1)")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            problems.append(f"unknown alert kind {', '.join(unknown) or '(none)'}; use "
                            f"{', '.join(KINDS)}")
        if problems:
            raise AlertError("; ".join(problems))
        return self
