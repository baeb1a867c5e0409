"""Hugging Face model folders (asaas/models/hf.py) never run code and fail in one line: custom code
(auto_map) is refused before anything is imported, pickled weights are refused (safetensors
only), and truncated weights or an unknown architecture are one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import err, ok


def _with_custom_code(tiny_bert: Path, dst: Path, marker: Path) -> Path:
    folder = shutil.copytree(tiny_bert, dst)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "custom.CustomConfig",
                          "AutoModelForSequenceClassification": "custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                      "from transformers import BertConfig as CustomConfig\n")
    return folder


def test_model_folder_with_custom_code_is_refused(invoke, tiny_bert, tmp_path, learnable_source):
    marker = tmp_path / "custom-code-ran"
    folder = _with_custom_code(tiny_bert, tmp_path / "custom", marker)
    line = err(invoke("models", "register", "custom", "--hf", str(folder)))
    assert "auto_map" in line and "never runs" in line
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    line = err(invoke("train", "finetuned", "--base", str(folder), "--quiet"),
               after_log_lines=True)
    assert "auto_map" in line
    assert not marker.exists()


def test_truncated_safetensors_is_a_one_line_error(invoke, tiny_bert, tmp_path, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    folder = shutil.copytree(tiny_bert, tmp_path / "cut")
    ok(invoke("models", "register", "cut", "--hf", str(folder), "--max-length", "64"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:300])
    ok(invoke("models", "register", "cut2", "--hf", str(folder), "--max-length", "64"))
    line = err(invoke("score", "--model", "cut2", "--quiet"))
    assert "cannot load model" in line


def test_unknown_model_type_is_a_one_line_error(invoke, tiny_bert, tmp_path):
    folder = shutil.copytree(tiny_bert, tmp_path / "odd")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "no-such-architecture"
    (folder / "config.json").write_text(json.dumps(config))
    assert "cannot load model config" in err(invoke("models", "register", "odd", "--hf",
                                                    str(folder)))
    (folder / "config.json").write_text("{truncated")
    assert "not valid JSON" in err(invoke("models", "register", "odd", "--hf", str(folder)))


def test_pickled_weights_are_refused(invoke, tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = shutil.copytree(tiny_bert, tmp_path / "pickled")
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    line = err(invoke("models", "register", "pickled", "--hf", str(folder)))
    assert "pytorch_model.bin" in line and "pickled" in line
