"""What an alert is, apart from the code that finds alerts: the rules' numbers (``AlertRule``),
the alert itself (``Alert``) and its id. Kept light (no pandas, numpy or ruptures) so that the
command line can show the defaults without importing them.

The rules are applied by ``asaas.timeline.spikes`` (the daily ``negative`` and ``volume`` rules)
and ``asaas.timeline.changepoints`` (``shift``), over every product by ``asaas.timeline.alerts``.

An alert's id is ``KIND:PRODUCT:START`` (``negative:433950:2017-09-12``): the same for the same
data and rule. ``Alert.id`` writes it and ``parse_alert_id`` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from asaas.errors import AsaasError

KINDS = ("negative", "volume", "shift")


class AlertError(AsaasError):
    """Alert options or an alert id that cannot be used."""


@dataclass(frozen=True)
class AlertRule:
    """Every number of the alert rules (their meaning: the docstrings of asaas.timeline.spikes
    and asaas.timeline.changepoints)."""

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


def rule_from_options(**options: Any) -> AlertRule:
    """An AlertRule from keyword options, ignoring those left at None."""
    names = {f.name for f in fields(AlertRule)}
    return replace(AlertRule(), **{k: v for k, v in options.items()
                                   if k in names and v is not None}).check()


@dataclass(frozen=True)
class Alert:
    product_id: int
    product: str  # external id
    name: str | None
    kind: str  # negative | volume | shift
    start: date
    end: date
    n_reviews: int
    n_negative: int
    expected_negative: float
    share: float | None
    baseline_share: float | None
    peak_day: date
    peak_reviews: int
    peak_negative: int
    source: str = "labels"
    #: What the share is compared with: the baseline window before a daily alert, the previous
    #: segment before a shift.
    baseline_reviews: int = 0
    baseline_negative: int = 0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.product}:{self.start.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


_ALERT_ID = re.compile(rf"^({'|'.join(KINDS)}):(.+):(\d{{4}}-\d{{2}}-\d{{2}})$")


def parse_alert_id(alert_id: str) -> tuple[str, str, date]:
    """(kind, product reference, day) of an id as ``Alert.id`` writes it."""
    match = _ALERT_ID.match(alert_id.strip())
    try:
        if match:
            return match.group(1), match.group(2), date.fromisoformat(match.group(3))
    except ValueError:  # a day that does not exist, such as 2020-02-30
        pass
    raise AlertError(f"bad alert id {alert_id!r}; use KIND:PRODUCT:YYYY-MM-DD as "
                     "`asaas alerts` prints it, e.g. negative:433950:2017-09-12")
