"""`asaas ingest --detect-language`: languages filled where the source has none, ISO codes,
"unknown" for text a detector could only guess at, and one-line refusals."""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.ingest import language as lang_mod
from asaas.ingest.language import detect_languages
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q
from tests.requires import require


@pytest.fixture(autouse=True)
def _lingua():
    require("lingua")


@pytest.mark.parametrize("text,code", [
    ("This game is really great fun, I recommend it", "en"),
    ("Das Spiel macht wirklich großen Spaß", "de"),
    ("Очень хорошая игра, советую всем", "ru"),
    ("这个游戏非常好玩，推荐", "zh"),
    ("このゲームはとても面白いです", "ja"),
    ("정말 재미있는 게임입니다", "ko"),
    ("", "unknown"),  # empty
    ("   ", "unknown"),
    ("👍👍👍", "unknown"),  # emoji only
    ("10/10 !!!", "unknown"),  # digits and punctuation
    ("GG", "unknown"),  # too few letters to say
    ("ok", "unknown"),
    ("ㅋㅋㅋ", "ko"),  # ... unless the script decides
    ("ゲーム", "ja"),
    ("好玩", "zh"),
    ("очень хорошая игра, very good", "ru"),  # mixed: the main language
])
def test_detect_languages(text, code):
    assert detect_languages([text]) == [code]


def test_expected_languages_setting(monkeypatch):
    monkeypatch.setenv("ASAAS_DETECT_LANGUAGES", "en,de")
    assert lang_mod.expected_codes() == ("de", "en")
    # Among English and German only, a Russian text is one of them or unknown, never "ru".
    assert detect_languages(["Очень хорошая игра"])[0] in ("en", "de", "unknown")
    assert detect_languages(["정말 재미있는 게임입니다"]) == ["unknown"]  # ko not expected
    monkeypatch.setenv("ASAAS_DETECT_LANGUAGES", "all")
    assert lang_mod.expected_codes() is None


def _source(tmp_path, with_language: bool):
    rows = {"id": ["en", "de", "emoji", "given"],
            "text": ["This game is really great fun", "Das Spiel ist wirklich gut",
                     "👍👍", "Ein deutscher Text"],
            "label": [1, 1, 1, 0]}
    if with_language:
        rows["lang"] = [None, None, None, "english"]  # the source's own value is kept
    path = tmp_path / "test.parquet"
    pq.write_table(pa.table(rows), path)
    return path


def test_ingest_fills_missing_languages(invoke, db_url, tmp_path):
    _ok(invoke("ingest", "--source", str(_source(tmp_path, True)), "--language-column", "lang",
               "--detect-language"))
    got = dict(_q(db_url, "SELECT external_id, language FROM reviews"))
    assert got == {"en": "en", "de": "de", "emoji": "unknown", "given": "english"}


def test_ingest_without_the_option_detects_nothing(invoke, db_path, tmp_path):
    _ok(invoke("ingest", "--source", str(_source(tmp_path, False))))
    assert {r[0] for r in _q(db_path, "SELECT language FROM reviews")} == {None}


def test_bad_settings_are_refused_before_anything_is_written(invoke, db_path, tmp_path,
                                                             monkeypatch):
    src = _source(tmp_path, False)
    monkeypatch.setenv("ASAAS_DETECT_LANGUAGES", "en,xx")
    assert "'xx' is not an ISO 639-1 code" in _err(invoke("ingest", "--source", str(src),
                                                           "--detect-language"))
    monkeypatch.setenv("ASAAS_DETECT_LANGUAGES", "en")
    assert "names one language" in _err(invoke("ingest", "--source", str(src),
                                                "--detect-language"))
    monkeypatch.delenv("ASAAS_DETECT_LANGUAGES")
    lang_mod._detector.cache_clear()
    monkeypatch.setitem(sys.modules, "lingua", None)  # as if not installed
    try:
        msg = _err(invoke("ingest", "--source", str(src), "--detect-language"))
    finally:
        lang_mod._detector.cache_clear()
    assert "pip install 'asaas[multilingual]'" in msg
    assert not db_path.exists() or _q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


def test_job_step_key(tmp_path):
    from asaas.errors import ConfigError
    from asaas.ingest.options import options_from_job

    assert options_from_job({"kind": "ingest", "detect_language": True}).detect_language
    with pytest.raises(ConfigError, match="detect_language must be true or false"):
        options_from_job({"kind": "ingest", "detect_language": "yes"})
