"""`asaas job`: run job files unattended and print crontab lines."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly


@cli.group()
def job() -> None:
    """Run job files (ingest, score, views, report, events and alerts steps) unattended, e.g.
    from cron."""


@job.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False))
@db_option
@click.pass_context
@fail_cleanly
def job_run(ctx: click.Context, job_file: str, db_url: str | None) -> None:
    """Run JOB_FILE: exit 0 when every step succeeded, 1 when a step failed, 2 for a bad job
    file, 75 when another run of the same job holds its lock."""
    from asaas.jobs import run_job

    ctx.exit(run_job(job_file, db_url=db_url))


@job.command("cron")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--schedule", default="0 3 * * *", show_default=True,
              help="Cron schedule: five fields, or @daily, @hourly...")
@click.option("--log", "log_file", default=None, type=click.Path(dir_okay=False),
              help="Log file the run appends to [default: logs/NAME.log beside the job file].")
@db_option
@fail_cleanly
def job_cron(job_file: str, schedule: str, log_file: str | None, db_url: str | None) -> None:
    """Print a crontab line that runs JOB_FILE under cron's bare environment."""
    from asaas.jobs import crontab_line
    from asaas.settings import Settings

    click.echo(crontab_line(job_file, schedule, log_file=log_file, db_url=db_url))
    if Settings().registry_key:
        click.echo("note: ASAAS_REGISTRY_KEY is not written into the crontab line (it is a "
                   "secret); cron runs read ASAAS_HOME/registry.key: put the key there, mode "
                   "0600", err=True)
