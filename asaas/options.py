"""Options: each command's settings as one typed dataclass, built from its command-line flags and
from a job file's keys by the same function, ``from_values``.

A field declares everything about its setting once: its default (the dataclass default) and, in
``option(...)``, its key (the job-file key and click's parameter name; the flag is the key with
dashes, or ``flag``), its least value, its choices. ``from_values`` rejects unknown keys, checks
types (a job file's TOML values come untyped), leaves what was not given at its default and
checks the bounds; each problem is one ConfigError naming the option as the user wrote it:
``--max-reviews`` on the command line, ``max_reviews`` in a job file. A field whose type is
itself an options dataclass takes its keys from the same flat mapping (``ScoreRun`` holds
``ScoreOptions`` and ``RayOptions``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from datetime import date, datetime
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from asaas.clock import naive_utc, parse_iso
from asaas.errors import ConfigError
from asaas.settings import DEFAULT_DATASET, DEFAULT_SPLIT

T = TypeVar("T", bound="Options")

#: Where option values come from: the command line (flags) or a job file (keys).
STYLES = ("cli", "job")


def option_name(key: str, style: str, flag: str | None = None) -> str:
    """``max_reviews`` as the command line (``--max-reviews``) or a job file says it."""
    if style == "job":
        return key
    return flag or "--" + key.replace("_", "-")


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           key: str | None = None, flag: str | None = None, low: float | None = None,
           choices: tuple[Any, ...] | None = None, commas: bool = False, example: str = "",
           unit: str = "", parse: Callable[[Any, str], Any] | None = None,
           internal: bool = False) -> Any:
    """A dataclass field that is a setting.

    key: its job-file key and click parameter name (default: the field's name); flag: its flag
    when that is not ``--key``; low: its least value; choices: the values it may take (for a
    list, each item); commas: list items may be comma-separated (``--split train,test``);
    example: what to write, quoted in errors; unit: of a number, for errors; parse: a function
    (value, name) -> value for a value with a small language of its own; internal: set by code,
    never by a flag or a key.
    """
    meta = {"key": key, "flag": flag, "low": low, "choices": choices, "commas": commas,
            "example": example, "unit": unit, "parse": parse, "internal": internal}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"asaas": meta})


def default(cls: type, name: str) -> Any:
    """The declared default of field ``name`` of ``cls`` (for a flag's ``--help``)."""
    f = cls.__dataclass_fields__[name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


class Options:
    """Base of the option dataclasses: ``from_values`` and ``check``."""

    @classmethod
    def from_values(cls: type[T], values: Mapping[str, Any], style: str = "cli") -> T:
        """The options ``values`` give (click's parameters or a job step's keys); a value of
        None is "not given". Raises ConfigError naming the first bad option."""
        known = keys(cls)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; " + (
                f"use {', '.join(known)}" if known else "it takes none"))
        options = _build(cls, values, style)
        options.check(style)
        return options

    def check_given(self, values: Mapping[str, Any], style: str) -> None:
        """Refuse what only the values given tell (an option that needs another); called by
        ``from_values`` for these options and every nested one."""

    def check(self, style: str = "cli") -> None:
        """Refuse values out of bounds (for options built in code as well as from values)."""
        hints = typing.get_type_hints(type(self))
        for f, spec in _specs(type(self)):
            value = getattr(self, f.name)
            if isinstance(value, Options):
                value.check(style)
            elif spec["low"] is not None and value is not None and value < spec["low"]:
                raise ConfigError(_bound_message(_name(f, spec, style), value, spec, style,
                                                 whole=_kind(hints[f.name]) is int))


def keys(cls: type) -> list[str]:
    """Every key ``cls`` takes, nested options' included, in declaration order."""
    out: list[str] = []
    for f, spec in _specs(cls):
        if _nested(cls, f) is not None:
            out += keys(_nested(cls, f))
        elif not spec["internal"]:
            out.append(spec["key"] or f.name)
    return out


def _specs(cls: type) -> list[tuple[dataclasses.Field[Any], dict[str, Any]]]:
    empty = {"key": None, "flag": None, "low": None, "choices": None, "commas": False,
             "example": "", "unit": "", "parse": None, "internal": True}
    return [(f, f.metadata.get("asaas", empty)) for f in dataclasses.fields(cls)]


def _nested(cls: type, f: dataclasses.Field[Any]) -> type | None:
    hint = typing.get_type_hints(cls)[f.name]
    return hint if isinstance(hint, type) and issubclass(hint, Options) else None


def _name(f: dataclasses.Field[Any], spec: dict[str, Any], style: str) -> str:
    if spec["internal"]:
        return f.name  # set by code: its own name
    return option_name(spec["key"] or f.name, style, spec["flag"])


def _build(cls: type[T], values: Mapping[str, Any], style: str) -> T:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f, spec in _specs(cls):
        nested = _nested(cls, f)
        if nested is not None:
            kwargs[f.name] = _build(nested, values, style)
            continue
        key = spec["key"] or f.name
        value = None if spec["internal"] else values.get(key)
        if value is not None:
            value = _typed(value, hints[f.name], spec, _name(f, spec, style), style)
        if value is not None:
            kwargs[f.name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"needs {_name(f, spec, style)} = {spec['example'] or '...'}")
    options = cls(**kwargs)
    options.check_given(values, style)
    return options


def _typed(value: Any, hint: Any, spec: dict[str, Any], name: str, style: str) -> Any:
    """``value`` checked against the field's type (and choices); None for an empty list."""
    if spec["parse"] is not None:
        return spec["parse"](value, name)
    kind = _kind(hint)
    if typing.get_origin(kind) is list:
        value = _names(value, name, spec)
        for item in value or []:
            _choose(item, name, spec, style)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(_bound_message(name, value, spec, style, whole=True))
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError(_bound_message(name, value, spec, style, whole=False))
        value = float(value)
    elif kind is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return _choose(value, name, spec, style)


def _kind(hint: Any) -> Any:
    """``int | None`` -> int: the type a value must have when it is given."""
    if isinstance(hint, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def _names(value: Any, name: str, spec: dict[str, Any]) -> list[str] | None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name} must be a list of names such as {spec['example'] or '[...]'}"
                          f", not {value!r}")
    if spec["commas"]:
        value = [part.strip() for v in value for part in v.split(",")]
    out = [v for v in value if v.strip()]
    return out or None  # nothing named: as if not given


def _choose(value: Any, name: str, spec: dict[str, Any], style: str) -> Any:
    choices = spec["choices"]
    if choices is not None and value not in choices:
        shown = [f'"{c}"' if style == "job" else str(c) for c in choices]
        listed = f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]
        raise ConfigError(f"{name} {value!r} is not known; use {listed}")
    return value


def _bound_message(name: str, value: Any, spec: dict[str, Any], style: str, *,
                   whole: bool) -> str:
    """The one message for a number out of bounds or of the wrong type: a job file's says what
    it wants and the value it got (its values come untyped), the command line's (typed by
    click) the bound and the value."""
    low = spec["low"]
    if style == "job":
        if whole:
            return f"{name} = {value!r} must be a whole number" + (
                f" of at least {low}" if low is not None else "")
        unit = f" of {spec['unit']}" if spec["unit"] else ""
        return f"{name} = {value!r} must be a number{unit}" + (
            f" ({low:g} or more)" if low is not None else "")
    shown = f"{value:g}" if isinstance(value, float) else value
    if low == 0:
        return f"{name} must not be negative (got {shown})"
    return f"{name} must be at least {low:g} (got {shown})"


# -- the read commands' options ---------------------------------------------------------------
# (``asaas report`` and ``disagreements`` and a job's report step; asaas.report takes them as
# keywords. Scoring's are in asaas.scoring.options, ingest's in asaas.ingest.options.)


@dataclasses.dataclass
class ReportOptions(Options):
    """Which metrics ``asaas report`` (and a job's report step) shows."""

    split: str = option(DEFAULT_SPLIT)  # or "all"
    dataset: str = option(DEFAULT_DATASET)
    models: list[str] | None = option(None, flag="--model", example='["tfidf-lr"]')
    latest: bool = option(False)
    #: "language": a row per version and language (asaas.report_languages), not per version.
    by: str = option("version", choices=("version", "language"))
    #: With by = "language": only languages with at least this many scored labelled reviews.
    min_reviews: int = option(0, low=0)

    def query(self) -> dict[str, Any]:
        """As ``asaas.report.metrics_report`` takes them."""
        return {"split": self.split, "dataset": self.dataset, "models": self.models or (),
                "latest": self.latest}


@dataclasses.dataclass
class DisagreementsOptions(Options):
    """Which reviews ``asaas disagreements`` shows."""

    split: str = option(DEFAULT_SPLIT)  # or "all"
    dataset: str = option(DEFAULT_DATASET)
    limit: int = option(20, low=1)
    wrong_only: bool = option(False)


def parse_date(value: Any, name: str) -> date:
    """A date option (``parse=parse_date``): a TOML date or date-time, or ISO 8601 text; a zone,
    when given, is converted to UTC first."""
    if isinstance(value, datetime):
        return naive_utc(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_iso(value).date()
        except ValueError:
            pass
    raise ConfigError(f"{name} {value!r} is not a date; write YYYY-MM-DD, e.g. 2018-01-01")
