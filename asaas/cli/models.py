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

    versions = list_versions(open_db(db_url))
    if not versions:
        click.echo("no models yet: `asaas train ...` or `asaas models register NAME --hf PATH`")
        return
    rows = [("model", "version", "kind", "created (UTC)", "trained on", "artifact")]
    for v in versions:
        rows.append((v.name, str(v.version), v.kind, v.created_at.strftime("%Y-%m-%d %H:%M"),
                     v.train_dataset or "-", v.artifact_uri))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


@models.command("register")
@click.argument("name")
@click.option("--hf", "hf_ref", required=True, metavar="HUB_ID_OR_PATH",
              help="A Hugging Face sequence classifier: Hub id or local save_pretrained folder.")
@click.option("--positive-label", default=None, metavar="LABEL",
              help="Which of the model's labels means positive (needed for LABEL_0/LABEL_1).")
@click.option("--description", default=None, help="Free text kept with the model.")
@db_option
@fail_cleanly
def models_register(name: str, hf_ref: str, positive_label: str | None,
                    description: str | None, db_url: str | None) -> None:
    """Register an existing Hugging Face classifier as a new version of NAME."""
    from asaas.models.registry import register_hf

    mv = register_hf(open_db(db_url), name, hf_ref, positive_label=positive_label,
                     description=description)
    click.echo(f"registered {mv.label} ({mv.kind}: {mv.artifact_uri}; "
               f"{mv.params.get('label_description')})")
