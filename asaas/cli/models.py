"""`asaas models`: list and register model versions."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db


@cli.group()
def models() -> None:
    """List and register models and their numbered versions."""


@models.command("list")
@db_option
@fail_cleanly
def models_list(db_url: str | None) -> None:
    """Show every model version: kind, artifact, training data and when it was made."""
    from asaas.models.registry import list_versions

    versions = list_versions(open_db(db_url, read_only=True))
    if not versions:
        click.echo("no models yet: `asaas train ...` or `asaas models register NAME --hf PATH`")
        return
    rows = [("model", "version", "kind", "scored with", "created (UTC)", "trained on",
             "artifact")]
    for v in versions:
        trained = f"{v.train_dataset}/{v.train_split}" if v.train_split else (
            v.train_dataset or "-")
        rows.append((v.name, str(v.version), v.kind, v.recipe.describe(),
                     v.created_at.strftime("%Y-%m-%d %H:%M"), trained, v.artifact_uri))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


@models.command("show")
@click.argument("ref", metavar="MODEL[:VERSION]")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]),
              default="table", show_default=True, help="Output format of the tables.")
@db_option
@fail_cleanly
def models_show(ref: str, fmt: str, db_url: str | None) -> None:
    """One model version: kind, artifact, training data and recipe, and the evaluation it was
    registered with (off-topic classifiers: per held-out incident and label)."""
    import json

    from asaas.models.registry import resolve_ref
    from asaas.tables import format_table

    mv = resolve_ref(open_db(db_url, read_only=True), ref)
    evaluation = (mv.metrics or {}).get("labels") if mv.kind == "offtopic" else None
    if fmt == "json":
        click.echo(json.dumps({"model": mv.name, "version": mv.version, "kind": mv.kind,
                               "artifact": mv.artifact_uri, "params": mv.params,
                               "metrics": mv.metrics, "created_at": mv.created_at},
                              indent=2, default=str))
        return
    click.echo(f"{mv.label}: {mv.kind}, created {mv.created_at:%Y-%m-%d %H:%M} UTC, "
               f"scored with {mv.recipe.describe()}; artifact {mv.artifact_uri}")
    trained = mv.train_dataset or mv.params.get("source")
    if trained:
        click.echo(f"trained on {trained}" + (f" ({mv.metrics['train_rows']:,} rows)"
                                              if "train_rows" in (mv.metrics or {}) else ""))
    if evaluation:
        from asaas.offtopic.train import incidents_table, summary_table

        click.echo("\nLeave one incident out, per held-out incident:")
        click.echo(format_table(incidents_table(evaluation), fmt))
        click.echo("\nMean over the held-out incidents, and the pooled error rates:")
        click.echo(format_table(summary_table(evaluation), fmt))
    elif mv.metrics:
        shown = {k: v for k, v in mv.metrics.items() if not isinstance(v, (dict, list))}
        click.echo("metrics: " + ", ".join(f"{k} {v}" for k, v in shown.items()))


@models.command("register")
@click.argument("name")
@click.option("--hf", "hf_ref", default=None, metavar="HUB_ID_OR_PATH",
              help="A Hugging Face sequence classifier: Hub id or local save_pretrained folder "
              "(stored by absolute path).")
@click.option("--from", "from_ref", default=None, metavar="MODEL[:VERSION]",
              help="Reuse the weights of a registered transformer version with another scoring "
              "recipe (e.g. --from finetuned:1 --max-length 512).")
@click.option("--max-length", type=int, default=None,
              help="Tokens the version reads per review [default: 512, or the --from "
              "version's].")
@click.option("--truncation", type=click.Choice(["head", "head+tail"]), default=None,
              help="How longer reviews are cut [default: head, or the --from version's].")
@click.option("--quantize", type=click.Choice(["none", "int8"]), default=None,
              help="Score with int8 dynamic quantisation on CPU [default: none, or the --from "
              "version's].")
@click.option("--positive-label", default=None, metavar="LABEL",
              help="Which of the model's labels means positive (needed for LABEL_0/LABEL_1).")
@click.option("--description", default=None, help="Free text kept with the model.")
@db_option
@fail_cleanly
def models_register(name: str, hf_ref: str | None, from_ref: str | None,
                    max_length: int | None, truncation: str | None, quantize: str | None,
                    positive_label: str | None, description: str | None,
                    db_url: str | None) -> None:
    """Register a Hugging Face classifier (--hf) or a scoring variant of a registered
    version (--from) as a new version of NAME; every version is scored with one recipe."""
    from asaas.errors import ConfigError
    from asaas.models.registry import (DEFAULT_MAX_LENGTH, DEFAULT_TRUNCATION, Recipe,
                                       register_hf, register_variant, resolve_ref)

    if (hf_ref is None) == (from_ref is None):
        raise ConfigError("give exactly one of --hf HUB_ID_OR_PATH or --from MODEL[:VERSION]")
    store = open_db(db_url)
    quant = None if quantize in (None, "none") else quantize
    if from_ref is not None:
        source = resolve_ref(store, from_ref)
        base = source.recipe
        recipe = Recipe(max_length or base.max_length, truncation or base.truncation,
                        base.quantize if quantize is None else quant)
        mv = register_variant(store, name, source, recipe, description=description)
        click.echo(f"registered {mv.label}: the weights of {source.label}, scored with "
                   f"{mv.recipe.describe()} (was {base.describe()})")
        return
    recipe = Recipe(max_length or DEFAULT_MAX_LENGTH, truncation or DEFAULT_TRUNCATION, quant)
    mv = register_hf(store, name, hf_ref, positive_label=positive_label,
                     description=description, recipe=recipe)
    click.echo(f"registered {mv.label} ({mv.kind}: {mv.artifact_uri}; "
               f"{mv.params.get('label_description')}; scored with {mv.recipe.describe()})")


@models.command("verify")
@click.argument("refs", nargs=-1, metavar="[MODEL[:VERSION]]...")
@click.option("--record", is_flag=True,
              help="Sign unsigned versions with this host's registry key, recording their "
              "files' checksums first if they have none (versions registered before asaas "
              "did either): only for rows and files you trust, since from then on they load. "
              "Signed versions are never re-signed.")
@db_option
@fail_cleanly
def models_verify(refs: tuple[str, ...], record: bool, db_url: str | None) -> None:
    """Check model versions (every one by default): the registry row's signature under this
    host's registry key, and the files against the sha256 checksums recorded at registration;
    exit 1 when a row is unsigned or changed, or a file was changed, added or is missing."""
    from asaas.errors import AsaasError
    from asaas.models.registry import (check_signature, list_versions, record_signature,
                                       resolve_ref, verify_artifact)

    store = open_db(db_url, read_only=not record)
    versions = [resolve_ref(store, r) for r in refs] if refs else list_versions(store)
    if not versions:
        click.echo("no models yet")
        return
    problems = 0
    for mv in versions:
        try:
            if record and mv.registry_mac is None:
                mv, recorded = record_signature(store, mv)
                what = f"recorded checksums of {recorded} files and " if recorded else ""
                click.echo(f"{mv.label}: {what}signed {mv.artifact_uri} with this host's "
                           "registry key")
            check_signature(store, mv)
            verify_artifact(mv)
        except AsaasError as exc:
            problems += 1
            click.echo(f"{mv.label}: FAILED: {exc}")
            continue
        what = (f"{len(mv.artifact_sha256)} files match" if mv.artifact_sha256 else
                f"Hub model pinned to {mv.params.get('hf_revision') or 'no recorded commit'}")
        click.echo(f"{mv.label}: ok ({what}), signature ok")
    if problems:
        raise AsaasError(f"{problems} of {len(versions)} versions failed verification")


@cli.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--unregistered", is_flag=True,
              help="Also remove artifact folders no version of this database names (left by "
              "older asaas versions). Not when several databases share one ASAAS_HOME.")
@db_option
@fail_cleanly
def gc(dry_run: bool, unregistered: bool, db_url: str | None) -> None:
    """Remove artifact folders that killed training runs left under ASAAS_HOME (unfinished
    saves, unregistered models); never a registered version or a run in progress."""
    from pathlib import Path

    from asaas.cli.base import model_home
    from asaas.models.checksums import is_local
    from asaas.models.registry import list_versions
    from asaas.training.artifacts import collect_garbage

    store = open_db(db_url, read_only=True)
    home = model_home(store)

    def registered() -> set[Path]:
        return {Path(v.artifact_uri).expanduser() for v in list_versions(store)
                if is_local(v.artifact_uri)}

    found = collect_garbage(home, registered, unregistered=unregistered, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in found:
        click.echo(f"{verb} {item.path} ({item.reason})")
    click.echo(f"{verb} {len(found)} folders under {home / 'models'}")
