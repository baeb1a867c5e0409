"""Shares of off-topic answers in a set of reviews (an alert, a period), corrected for the
classifier's error rates, with 95% intervals.

The same correction as the negative share of the timelines (sql/102_timeline.sql): adjusted
classify-and-count (Forman 2008). With q the share of the reviews the classifier says yes to,
s = P(yes predicted | yes) and f = P(yes predicted | no) measured on held-out incidents (the
leave-one-incident-out evaluation pooled over every incident, stored with the version):

    pi = (q - f) / (s - f), clipped to [0, 1]
    Var(pi) = [q~(1-q~)/(n+z^2) + pi^2 s(1-s)/N_yes + (1-pi)^2 f(1-f)/N_no] / (s-f)^2

with q~ the Agresti-Coull share (k + z^2/2)/(n + z^2), so a set where the classifier says yes to
nothing still gets an interval of some width; pi +- 1.96 sd, clipped. No corrected share when
s - f < 0.1 (the classifier barely separates the answers) or when the set has fewer than
MIN_REVIEWS reviews: a share of a handful of reviews, corrected by rates measured elsewhere,
would look more certain than it is.

The off-topic share is 1 - the corrected share of "about the game".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asaas.offtopic.data import DESCRIPTIONS, ON_TOPIC_LABEL
from asaas.tables import Table
from asaas.timeline.intervals import wilson_interval

Z95 = 1.959963984540054
#: Fewest reviews a share is given for.
MIN_REVIEWS = 30
#: Below this separation (s - f) no correction is attempted (as sql/102_timeline.sql).
MIN_SEPARATION = 0.1
OFFTOPIC = "off_topic"


@dataclass(frozen=True)
class Rates:
    """A label's error rates measured on held-out incidents."""

    hit: float  # s
    false_alarm: float  # f
    n_yes: int
    n_no: int

    @classmethod
    def from_summary(cls, summary: dict) -> Rates | None:
        s, f = summary.get("hit_rate"), summary.get("false_alarm_rate")
        if s is None or f is None:
            return None
        return cls(float(s), float(f), int(summary["n_positive"]), int(summary["n_negative"]))


@dataclass(frozen=True)
class Share:
    label: str
    n: int  # reviews the share is of
    k: int  # of which the classifier said yes to
    raw: float | None
    raw_low: float | None
    raw_high: float | None
    corrected: float | None
    low: float | None
    high: float | None
    reason: str | None = None
    with_burst: bool = False

    @property
    def description(self) -> str:
        if self.label == OFFTOPIC:
            return "not about the game (off-topic)"
        return DESCRIPTIONS.get(self.label, self.label)


def corrected_share(k: int, n: int, rates: Rates | None
                    ) -> tuple[float | None, float | None, float | None, str | None]:
    """(pi, low, high, reason): see the module docstring."""
    if n < MIN_REVIEWS:
        return None, None, None, (f"too few reviews for a share ({n}; need {MIN_REVIEWS})")
    if rates is None:
        return None, None, None, "no held-out error rates recorded with this version"
    sep = rates.hit - rates.false_alarm
    if sep < MIN_SEPARATION:
        return None, None, None, (f"s - f = {sep:.2f} < {MIN_SEPARATION}: the classifier "
                                  "barely tells the answers apart, no correction")
    q = k / n
    pi = min(1.0, max(0.0, (q - rates.false_alarm) / sep))
    z2 = Z95 * Z95
    q_ac = (k + z2 / 2) / (n + z2)
    var = (q_ac * (1 - q_ac) / (n + z2)
           + pi * pi * rates.hit * (1 - rates.hit) / max(rates.n_yes, 1)
           + (1 - pi) ** 2 * rates.false_alarm * (1 - rates.false_alarm) / max(rates.n_no, 1)
           ) / (sep * sep)
    sd = math.sqrt(max(var, 0.0))
    return pi, max(0.0, pi - Z95 * sd), min(1.0, pi + Z95 * sd), None


def share_of(label: str, k: int, n: int, rates: Rates | None, *, with_burst: bool = False
             ) -> Share:
    raw_low, raw_high = wilson_interval(k, n) if n else (None, None)
    pi, low, high, reason = corrected_share(k, n, rates)
    return Share(label, n, k, k / n if n else None, raw_low, raw_high, pi, low, high, reason,
                 with_burst)


def off_topic(about: Share) -> Share:
    """The off-topic share from the share of "about the game": its complement."""
    flip = (lambda v: None if v is None else 1.0 - v)  # noqa: E731
    return Share(OFFTOPIC, about.n, about.n - about.k, flip(about.raw), flip(about.raw_high),
                 flip(about.raw_low), flip(about.corrected), flip(about.high), flip(about.low),
                 about.reason, about.with_burst)


def shares_from_counts(counts: dict[str, int], n: int, summaries: dict[str, dict],
                       burst: dict[str, int] | None = None) -> list[Share]:
    """Shares of every label (off-topic first) from the number of reviews each label was
    predicted for among ``n``; ``summaries``: the version's evaluation (label -> summary, with
    'LABEL+burst' entries); ``burst``: counts with the burst block, used instead where given."""
    out = []
    for label, k in counts.items():
        use_burst = burst is not None and label in burst and f"{label}+burst" in summaries
        key = f"{label}+burst" if use_burst else label
        rates = Rates.from_summary(summaries.get(key) or {})
        out.append(share_of(label, burst[label] if use_burst else k, n, rates,
                            with_burst=use_burst))
    about = next((s for s in out if s.label == ON_TOPIC_LABEL), None)
    if about is not None:
        out.insert(0, off_topic(about))
    return out


SHARE_COLUMNS = ["label", "question", "reviews", "said_yes", "raw_share", "corrected_share",
                 "ci_low", "ci_high", "note"]


def shares_table(shares: list[Share]) -> Table:
    return Table(list(SHARE_COLUMNS), [
        (s.label, s.description + (" (with the burst)" if s.with_burst else ""), s.n, s.k,
         s.raw, s.corrected, s.low, s.high, s.reason) for s in shares])
