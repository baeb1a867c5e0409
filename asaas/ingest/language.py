"""Language detection for sources without a language field (``asaas ingest --detect-language``).

lingua-language-detector (Apache-2.0; its models ship inside the wheel, nothing downloaded),
restricted to the languages a deployment expects (``ASAAS_DETECT_LANGUAGES``; default the 24
ISO codes of Steam's review languages), in its high-accuracy mode. Chosen by the issue-20
research (bench/research-issue-20.md, part 3): the most accurate of six detectors against
Steam's own language field on the largest languages (0.907; English 0.98, Chinese 0.97).

Rules around it, for text a detector can only guess at:
- no letter at all (empty, emoji, digits, punctuation): ``unknown``, without asking lingua;
- fewer than MIN_LETTERS letters: ``unknown``, unless the script alone decides (Hangul: ko,
  kana: ja, Thai: th, Greek: el, two or more Han characters without kana: zh), e.g. "ㅋㅋㅋ"
  is Korean, "好玩" Chinese, "GG" and "ok" are anyone's;
- otherwise lingua's answer among the expected languages (``unknown`` when it has none).
Codes are ISO 639-1 ("en", "zh", "ko"; Norwegian "no"), which asaas' multilingual models map
to Steam's names (asaas.models.multilingual.STEAM_LANGUAGES). Simplified and Traditional Chinese
are both "zh": no detector here tells them apart. Mixed text gets its main language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from asaas.errors import ConfigError

UNKNOWN = "unknown"
#: Below this many letters a text is "unknown" unless its script decides (research: every
#: detector guesses at random on 2-4 letter texts such as "GG", "ok", "w").
MIN_LETTERS = 4

#: Steam's review languages as ISO 639-1 codes: the default expected languages.
STEAM_CODES = ("bg", "cs", "da", "de", "el", "en", "es", "fi", "fr", "hu", "it", "ja", "ko",
               "nl", "no", "pl", "pt", "ro", "ru", "sv", "th", "tr", "uk", "zh")

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
#: Scripts that name their language on their own (when it is expected).
_SCRIPTS = (("ko", re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
            ("ja", re.compile(r"[\u3040-\u30ff]")),
            ("th", re.compile(r"[\u0e00-\u0e7f]")),
            ("el", re.compile(r"[\u0370-\u03ff]")),
            # Han without kana (kana says ja, above): Chinese, from two characters on.
            ("zh", re.compile(r"[\u4e00-\u9fff].*[\u4e00-\u9fff]")))

LINGUA_MISSING = ("--detect-language needs lingua-language-detector: "
                  "pip install 'asaas[multilingual]'")


def expected_codes(setting: str | None = None) -> tuple[str, ...] | None:
    """The expected languages (ISO 639-1), from ``setting`` or ASAAS_DETECT_LANGUAGES; None
    for every language lingua knows ("all")."""
    from asaas.settings import EmbeddingSettings

    raw = setting if setting is not None else EmbeddingSettings().languages
    if raw is None:
        return STEAM_CODES
    if raw.strip().lower() == "all":
        return None
    codes = tuple(sorted({c.strip().lower() for c in raw.split(",") if c.strip()}))
    if not codes:
        raise ConfigError("ASAAS_DETECT_LANGUAGES is empty; use ISO 639-1 codes such as "
                          "en,de,fr, or all")
    return codes


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...] | None) -> Any:
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        raise ConfigError(LINGUA_MISSING) from None
    if codes is None:
        return LanguageDetectorBuilder.from_all_languages().build()
    iso = []
    for code in codes:
        wanted = ("nb", "nn") if code == "no" else (code,)
        for c in wanted:
            try:
                iso.append(getattr(IsoCode639_1, c.upper()))
            except AttributeError:
                raise ConfigError(f"ASAAS_DETECT_LANGUAGES: {code!r} is not an ISO 639-1 code "
                                  "lingua knows; use codes such as en,de,fr, or all") from None
    if len(iso) < 2:
        raise ConfigError("ASAAS_DETECT_LANGUAGES names one language: nothing to detect; name "
                          "at least two, or set the language column instead")
    # Lazily loaded models (only those of languages a text might be): the whole set preloaded
    # costs ~700 MB and a minute here.
    return LanguageDetectorBuilder.from_iso_codes_639_1(*iso).build()


def check_available() -> None:
    """Refuse --detect-language before anything is read when lingua is missing or the
    expected languages are not codes it knows (builds the detector: the models load lazily)."""
    _detector(expected_codes())


def _code(language: Any) -> str:
    code = language.iso_code_639_1.name.lower()
    return "no" if code in ("nb", "nn") else code


def _by_script(text: str, codes: tuple[str, ...] | None) -> str | None:
    for code, script in _SCRIPTS:
        if script.search(text) and (codes is None or code in codes):
            return code
    return None


def detect_languages(texts: Sequence[str], codes: tuple[str, ...] | None | str = "setting"
                     ) -> list[str]:
    """ISO 639-1 code (or ``unknown``) of each text; see the module docstring."""
    if codes == "setting":
        codes = expected_codes()
    out: list[str | None] = [None] * len(texts)
    ask: list[int] = []
    for i, text in enumerate(texts):
        letters = len(_LETTER.findall(text or ""))
        if letters == 0:
            out[i] = UNKNOWN
        elif letters < MIN_LETTERS:
            out[i] = _by_script(text, codes) or UNKNOWN  # type: ignore[arg-type]
        else:
            ask.append(i)
    if ask:
        detector = _detector(codes)  # type: ignore[arg-type]
        found = detector.detect_languages_in_parallel_of([texts[i] for i in ask])
        for i, language in zip(ask, found):
            out[i] = _code(language) if language is not None else UNKNOWN
    return [c or UNKNOWN for c in out]


def fill_missing(texts: Sequence[str], languages: list[str | None]) -> int:
    """Detect the language of the rows that have none, in place; returns how many."""
    todo = [i for i, lang in enumerate(languages) if lang is None]
    if todo:
        for i, code in zip(todo, detect_languages([texts[i] for i in todo])):
            languages[i] = code
    return len(todo)
