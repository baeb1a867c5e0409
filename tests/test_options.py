"""Command options (asaas/options.py): a command's flags and its job step's keys build one options
dataclass with one default per setting, --dataset means one thing on every command, and
impossible values are refused in one line before anything is loaded or written (train, score,
disagreements; job files: tests/jobs/test_loading.py)."""

from __future__ import annotations

import pytest

from tests.helpers import err, ok


@pytest.fixture
def ingested(invoke, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(40, 20))))


@pytest.mark.parametrize("args,fragment", [
    (["train", "tfidf-lr", "--limit", "0"], "--limit"),
    (["train", "bow-rf", "--limit", "-3"], "--limit"),
    (["train", "tfidf-lr", "--seed", "-1"], "--seed"),
    (["train", "bow-rf", "--seed", str(2**32)], "--seed"),
    (["train", "finetuned", "--epochs", "0"], "--epochs"),
    (["train", "finetuned", "--batch-size", "0"], "--batch-size"),
    (["train", "finetuned", "--lr", "0"], "--lr"),
    (["train", "finetuned", "--lr", "nan"], "--lr"),
    (["train", "finetuned", "--checkpoint-minutes", "-1"], "--checkpoint-minutes"),
    (["train", "finetuned", "--checkpoint-minutes", "inf"], "--checkpoint-minutes"),
    (["train", "finetuned", "--seed", "-1"], "--seed"),
    (["train", "finetuned", "--limit", "0"], "--limit"),
    (["train", "finetuned", "--threads", "0"], "--threads"),
    (["train", "finetuned", "--max-length", "4"], "--max-length"),
    (["score", "--model", "tfidf-lr", "--batch-tokens", "0"], "--batch-tokens"),
    (["score", "--model", "tfidf-lr", "--limit", "0"], "--limit"),
    (["score", "--model", "tfidf-lr", "--threads", "-1"], "--threads"),
])
def test_impossible_values_are_refused(invoke, ingested, args, fragment, db_path):
    line = err(invoke(*args))
    assert fragment in line
    from tests.helpers import q

    assert q(db_path, "SELECT count(*) FROM model_versions") == [(0,)]


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_disagreements_limit_must_be_positive(invoke, ingested, limit):
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("train", "bow-rf"))
    assert "--limit" in err(invoke("disagreements", "tfidf-lr", "bow-rf", "--limit", limit))


# -- one home for options: the command line and job files build the same dataclasses ----------


def _cli_params(command, *args: str) -> dict:
    """What click hands the command for ``args``: the flags a job step's keys stand for."""
    ctx = command.make_context(command.name, list(args))
    return dict(ctx.params)


def test_score_flags_and_score_step_keys_are_one_set_with_one_default():
    from asaas.cli.score import score
    from asaas.jobs.steps import ScoreStep
    from asaas.options import keys
    from asaas.scoring import ScoreRun

    flags = _cli_params(score, "--model", "m")
    own = {"model_name", "version", "db_url"}  # which model and database, not how to score
    assert set(flags) - own == set(keys(ScoreRun))
    assert set(keys(ScoreStep)) == {"models", *keys(ScoreRun)}
    # No flags and no keys: the same run, field by field (progress_every_s was 30 on the
    # command line and 60 in job files).
    from_cli = ScoreRun.from_values({k: v for k, v in flags.items() if k not in own}, "cli")
    assert from_cli == ScoreRun.from_values({}, "job") == ScoreStep.from_values({}, "job").run
    assert from_cli.options.splits == ["test"] and from_cli.options.dataset == "imdb"
    # The same values say the same thing either way.
    given = _cli_params(score, "--model", "m", "--split", "train,test", "--limit", "7",
                        "--batch-size", "5", "--language", "english", "--quiet")
    assert ScoreRun.from_values({k: v for k, v in given.items() if k not in own}, "cli") == \
        ScoreRun.from_values({"splits": ["train", "test"], "limit": 7, "batch_size": 5,
                              "languages": ["english"], "quiet": True}, "job")


@pytest.mark.parametrize("command,options_type", [("report", "ReportOptions"),
                                                  ("disagreements", "DisagreementsOptions")])
def test_read_commands_build_their_options_from_their_flags(command, options_type):
    import asaas.options as options_mod
    from asaas.cli import cli

    cls = getattr(options_mod, options_type)
    args = ["a", "b"] if command == "disagreements" else []
    flags = _cli_params(cli.commands[command], *args)
    shown = {"fmt", "db_url", "full", "html_path", "model_a", "model_b"}  # how and where
    assert set(flags) - shown == set(options_mod.keys(cls))
    assert cls.from_values({k: v for k, v in flags.items() if k not in shown}, "cli") == cls()


def test_help_defaults_are_the_dataclass_defaults(invoke):
    from asaas.options import DisagreementsOptions, ReportOptions
    from asaas.scoring import ScoreOptions, ScoreRun

    def shown(*command):
        return " ".join(ok(invoke(*command, "--help")).split())

    score_help = shown("score")
    assert f"[default: {ScoreOptions().splits[0]}]" in score_help
    assert f"Where the model runs [default: {ScoreOptions().device}]" in score_help
    assert f"resume [default: {ScoreRun().engine}]" in score_help
    assert f"Split to report, or all [default: {ReportOptions().split}]" in shown("report")
    assert f"disagreements first [default: {DisagreementsOptions().limit}]" in \
        shown("disagreements")


def test_dataset_means_one_thing_on_every_command():
    """--dataset: the same flag and the same help wherever reviews are read (ingest and fetch
    steam name the dataset they write)."""
    import click

    from asaas.cli import cli
    from asaas.settings import DATASET_HELP

    found = {}

    def walk(group, prefix=()):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + (name,))
            for param in cmd.params:
                if "--dataset" in getattr(param, "opts", ()):
                    found[" ".join(prefix + (name,))] = (param.help, param.default)

    walk(cli)
    found.pop("ingest")
    found.pop("fetch steam")
    assert {"score", "report", "disagreements", "timeline", "events derive",
            "events effects", "alerts list", "responsiveness"} <= set(found)
    assert set(found.values()) == {(DATASET_HELP, None)}


@pytest.mark.parametrize("values,style,fragment", [
    ({"limit": 0}, "cli", "--limit must be at least 1 (got 0)"),
    ({"limit": 0}, "job", "limit = 0 must be a whole number of at least 1"),
    ({"limit": 2.5}, "job", "limit = 2.5 must be a whole number"),
    ({"batch_size": 0}, "cli", "--batch-size must be at least 1"),
    ({"gpus_per_worker": -1.0, "engine": "ray"}, "cli", "--gpus-per-worker must not be negative"),
    ({"gpus_per_worker": float("nan"), "engine": "ray"}, "job", "must be a number of GPUs"),
    ({"device": "tpu"}, "job", "device 'tpu' is not known; use \"auto\", \"cpu\" or \"cuda\""),
    ({"splits": "test"}, "job", "splits must be a list of names"),
    ({"languages": [1]}, "job", "languages must be a list of names"),
    ({"dataset": 7}, "job", "dataset must be a string, not 7"),
    ({"quiet": "yes"}, "job", "quiet must be true or false"),
    ({"workers": 2}, "job", 'workers is for the Ray engine: add engine = "ray"'),
    ({"workers": 2}, "cli", "--workers is for the Ray engine: add --engine ray"),
    ({"chunk_size": 5}, "job", "unknown key 'chunk_size'"),
])
def test_score_values_are_refused_with_their_names(values, style, fragment):
    from asaas.errors import ConfigError
    from asaas.scoring import ScoreRun

    with pytest.raises(ConfigError) as caught:
        ScoreRun.from_values(values, style)
    assert fragment in str(caught.value)


def test_all_splits_and_empty_lists():
    from asaas.scoring import ScoreOptions, ScoreRun

    assert ScoreRun.from_values({"splits": ["all"]}, "job").options.splits is None
    assert ScoreOptions(splits=["all"]).splits is None
    # Nothing named (`--split ,`, splits = []) is as if not given: the default split.
    assert ScoreRun.from_values({"splits": (",",)}, "cli").options.splits == ["test"]
    assert ScoreRun.from_values({"splits": []}, "job").options.splits == ["test"]
