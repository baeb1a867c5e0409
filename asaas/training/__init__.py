"""Training jobs: scikit-learn baselines and transformer fine-tuning, each a new model version.

- ``options``: FinetuneOptions and the defaults ``asaas train`` shows;
- ``data``: the labelled rows of a dataset, with the fingerprint of exactly what was used;
- ``baselines``: the scikit-learn recipes and ``train_baseline``;
- ``finetune``: ``finetune``, a PyTorch loop with checkpoints and resume;
- ``artifacts``: a model folder written completely or not at all.

The package imports nothing itself, so that the command line reads the options without loading
torch or scikit-learn: import from the module (``from asaas.training.baselines import
train_baseline``).
"""
