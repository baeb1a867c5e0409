"""Loading a registered Hugging Face folder from exactly the bytes that were checked, against the
usual way: check the folder's checksums, then let transformers read the folder again.

asaas (``hf.load_verified``) hashes each file while copying it into a private temporary folder
and loads from the copy; the usual way (what asaas did before issue 18) hashes the folder and
then calls ``from_pretrained`` on it, so a file swapped in between is loaded unchecked. Both
sides first run the same registry check (``checksums.verify``), as ``load_scorer`` does.

    python bench/verified_load_bench.py [FOLDER ...]   (default: ../shared/models tiny + MiniLM;
                                                        ASAAS_SHARED points elsewhere)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _models import SHARED  # noqa: E402  (../shared, or ASAAS_SHARED)

DEFAULT = [SHARED / "models" / "tiny-random-bert-sst2-style",
           SHARED / "models" / "all-MiniLM-L6-v2-bf16"]
REPEATS = 5


def main(folders: list[Path]) -> None:
    import torch

    from asaas.models import checksums, hf

    torch.set_num_threads(1)
    for folder in folders:
        expected = checksums.compute(str(folder))
        size = sum(p.stat().st_size for p in checksums.artifact_files(folder).values())

        def usual() -> None:
            checksums.verify("bench", str(folder), expected)
            hf.load_tokenizer(str(folder))
            hf.load_classifier(str(folder))

        def verified() -> None:
            checksums.verify("bench", str(folder), expected)
            hf.load_verified("bench", str(folder), expected)

        times: dict[str, list[float]] = {"usual": [], "verified": []}
        usual()  # warm the page cache and the imports for both
        for _ in range(REPEATS):
            for name, fn in (("usual", usual), ("verified", verified)):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        u, v = statistics.median(times["usual"]), statistics.median(times["verified"])
        print(f"{folder.name} ({size / 1e6:.1f} MB): check + load {u:.3f} s; check + load "
              f"from verified bytes {v:.3f} s; +{v - u:.3f} s ({v / u:.2f}x), median of "
              f"{REPEATS}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or DEFAULT)
