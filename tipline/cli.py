"""`flask tipline ...`: demo data, counters, accounts, photos, backups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import exists, select

from tipline import demo
from tipline.accounts.models import AuditAction
from tipline.accounts.permissions import misplaced_roles
from tipline.accounts.services import audit
from tipline.alerts.cli import notify_cli, worker_command
from tipline.alerts.sms_cli import sms_cli
from tipline.core.errors import TiplineError
from tipline.demo import import_province, seed_categories
from tipline.extensions import db
from tipline.media.storage import storage_for
from tipline.ops.backup import BackupError, backup, read_manifest, restore
from tipline.ops.serve import serve_command
from tipline.places.changes import retire_unit, unit_by_any_code
from tipline.places.importer import ImportRefused, apply_villages, import_units, plan_villages
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import root_unit
from tipline.reports.periods import parse_period
from tipline.reports.review import annual_review
from tipline.tips import counts
from tipline.tips.models import Tip
from tipline.tips.retention import purge_closed_tips
from tipline.tips.services import prune_orphan_photos
from tipline.tips.triage import escalate_stale


@click.group("tipline")
def tipline_cli() -> None:
    """Tipline administration."""


tipline_cli.add_command(serve_command)
tipline_cli.add_command(worker_command)
tipline_cli.add_command(notify_cli)
tipline_cli.add_command(sms_cli)


@tipline_cli.command("demo")
@click.option("--seed", default=2655, show_default=True, help="Random seed of the demo.")
@click.option("--if-empty", is_flag=True, help="Only build when the database has no tips yet.")
@with_appcontext
def demo_command(seed: int, if_empty: bool) -> None:
    """Build the Thanh Hóa demo (idempotent): units, accounts, a year of tips."""

    if if_empty and db.session.scalar(select(exists().where(Tip.id.isnot(None)))):
        click.echo("The database already has tips: demo not loaded.")
        result = {"accounts": demo.existing_accounts()}
    else:
        click.echo("Loading the demo (Thanh Hóa, a year of tips; about a minute)...")
        result = demo.build(seed=seed, echo=click.echo)
        db.session.commit()
    click.echo(f"\nDemo accounts (password for all: {demo.DEMO_PASSWORD}):")
    for account, user in result["accounts"]:
        if user is None:
            continue
        where = ", ".join(sorted({a.unit.name for a in user.roles}))
        click.echo(f"  {account.username:<10} {account.role.label} — {where}")


@tipline_cli.command("setup")
@click.option("--province", default="38", show_default=True, help="Province code to import.")
@with_appcontext
def setup_command(province: str) -> None:
    """Prepare a new deployment (idempotent): the province and its communes, the categories."""
    try:
        root = import_province(province)
    except ValueError as error:
        raise click.BadParameter(f"unknown province code {province!r}") from error
    seed_categories()
    db.session.commit()
    communes = len(root.children)
    click.echo(f"{root.name}: {communes} communes and wards; categories ready.")
    click.echo(f"Set TIPLINE_ROOT_UNIT={root.code} to serve this province.")


@tipline_cli.command("seed-categories")
@with_appcontext
def seed_categories_command() -> None:
    """Create the standard tip categories (idempotent)."""
    seed_categories()
    db.session.commit()
    click.echo("Categories ready.")


@tipline_cli.group("roles")
def roles_cli() -> None:
    """Check the roles given so far."""


@roles_cli.command("check")
@with_appcontext
def roles_check() -> None:
    """List every role held at a level it does not belong to (exit 1 if any).

    Each role belongs to one level of the unit tree (accounts/permissions.py); roles given
    before that rule, or written around it, are found here: take them back in the
    administration pages and give the role again at the right unit.
    """
    wrong = misplaced_roles()
    for assignment in wrong:
        click.echo(
            f"{assignment.user.username}: {assignment.role.value} at {assignment.unit.code} "
            f"({assignment.unit.name}, {assignment.unit.level.value})"
        )
    if wrong:
        raise click.exceptions.Exit(1)
    click.echo("Every role is held at its level.")


@tipline_cli.group("counters")
def counters_cli() -> None:
    """Check or rebuild the tip counters."""


@counters_cli.command("check")
@with_appcontext
def counters_check() -> None:
    """Recount from the tips and list every difference (exit 1 if any)."""
    diffs = counts.differences()
    for (unit_id, category_id, day, metric), (stored, expected) in sorted(diffs.items()):
        click.echo(
            f"unit={unit_id} category={category_id} day={day} {metric}: "
            f"stored {stored}, expected {expected}"
        )
    if diffs:
        raise click.exceptions.Exit(1)
    click.echo("Counters match the tips.")


@counters_cli.command("rebuild")
@with_appcontext
def counters_rebuild() -> None:
    """Replace the counters by a recount from the tips."""
    cells = counts.rebuild()
    db.session.commit()
    click.echo(f"Counters rebuilt: {cells} cells.")


@tipline_cli.command("backup")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--no-photos", is_flag=True, help="The database only (e.g. photos in S3).")
@with_appcontext
def backup_command(output: Path | None, no_photos: bool) -> None:
    """Back up the database and the photos into one tar file (while the app runs)."""

    if output is None:
        output = Path(f"tipline-backup-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar")
    try:
        summary = backup(current_app, output, photos=not no_photos)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Backup written to {summary.path}: {summary.database}, {summary.tables} tables, "
        f"{summary.rows} rows, {summary.photos} photo files."
    )


@tipline_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-photos", is_flag=True, help="Restore the database only.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(archive: Path, no_photos: bool, yes: bool) -> None:
    """Replace the database and the photos by those of a backup (checked first)."""

    try:
        manifest = read_manifest(archive)
    except (BackupError, OSError, ValueError) as error:
        raise click.ClickException(f"{archive}: {error}") from error
    click.echo(
        f"Backup of {manifest['created_at']}: {manifest['database']}, "
        f"revision {manifest['revision']}, {sum(manifest['rows'].values())} rows, "
        f"{len(manifest['photos'])} photo files."
    )
    if not yes:
        click.confirm("This replaces every tip, account and photo here. Continue?", abort=True)
    try:
        summary = restore(current_app, archive, photos=not no_photos)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Restored {summary.rows} rows in {summary.tables} tables and "
        f"{summary.photos} photo files. Run `flask db upgrade` if this code is newer."
    )


@tipline_cli.group("photos")
def photos_cli() -> None:
    """Maintain stored photos."""


@photos_cli.command("prune")
@click.option(
    "--older-than-hours",
    default=48,
    show_default=True,
    help="Keep orphans younger than this (a form may still be sent with its kept photo).",
)
@click.option(
    "--temporary-older-than-minutes",
    default=60,
    show_default=True,
    help="Remove temporary files of writes that died (a crash, a kill) once this old.",
)
@with_appcontext
def photos_prune(older_than_hours: int, temporary_older_than_minutes: int) -> None:
    """Delete photo files that no tip refers to, and stale temporary files (daily cron)."""

    storage = storage_for(current_app)
    sweep = getattr(storage, "sweep_temporary", None)  # S3 writes leave no temporary files
    if sweep is not None:
        swept = sweep(temporary_older_than_minutes * 60)
        click.echo(f"Removed {swept} stale temporary files.")
    removed = prune_orphan_photos(older_than_hours * 3600)
    click.echo(f"Removed {len(removed)} orphan photo files.")


@tipline_cli.group("retention")
def retention_cli() -> None:
    """The retention limit of personal data."""


@retention_cli.command("purge")
@click.option("--days", type=click.IntRange(min=0), help="Override TIPLINE_RETENTION_DAYS.")
@click.option("--photos/--no-photos", default=None, help="Override TIPLINE_RETENTION_PHOTOS.")
@with_appcontext
def retention_purge(days: int | None, photos: bool | None) -> None:
    """Remove the personal data of tips closed long enough ago (meant for a daily cron)."""
    report = purge_closed_tips(days=days, photos=photos)
    click.echo(
        f"Purged {report.tips} closed tips: {report.contacts} contacts, {report.notes} note "
        f"texts, {report.messages} message texts, {report.photos} photos ({report.files} files)."
    )


@tipline_cli.group("units")
def units_cli() -> None:
    """Administrative units: national data and villages."""


@units_cli.command("import")
@click.option(
    "--structure",
    type=click.Choice(["2025", "2024"]),
    default="2025",
    show_default=True,
    help="2025: provinces and communes since the July 2025 reform; 2024: with districts.",
)
@click.option(
    "--province", "provinces", multiple=True, help="Province code (repeatable); default: all."
)
@with_appcontext
def units_import(structure: str, provinces: tuple[str, ...]) -> None:
    """Import provinces and communes from the national data (idempotent)."""
    try:
        report = import_units(structure, list(provinces) or None)
    except ImportRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    levels = ", ".join(f"{n} {level.value}" for level, n in report.by_level.items())
    click.echo(
        f"Structure {structure}: {levels}. "
        f"Added {report.added}, updated {report.updated}, unchanged {report.unchanged}."
    )


@units_cli.command("import-villages")
@click.option("--commune", "commune_code", required=True, help="Code of the commune.")
@click.option("--dry-run", is_flag=True, help="Check the file and show the plan only.")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def units_import_villages(commune_code: str, dry_run: bool, file) -> None:
    """Import a commune's villages and clusters from CSV (columns: code, name, kind, parent)."""

    commune = db.session.scalar(
        select(Unit).where(Unit.code == commune_code, Unit.level == UnitLevel.COMMUNE)
    )
    if commune is None:
        raise click.ClickException(f"no commune with code {commune_code!r}")
    plan = plan_villages(commune, file.read())
    for error in plan.errors:
        click.echo(f"line {error.line}: {error.message}", err=True)
    if plan.errors:
        raise click.ClickException("the file has errors: nothing was imported")
    for row in plan.rows:
        click.echo(f"{row.action:<9} {row.code:<16} {row.kind:<12} {row.name}")
    if dry_run:
        click.echo("Dry run: nothing was imported.")
        return
    report = apply_villages(plan)
    db.session.commit()
    click.echo(
        f"{commune.name}: added {report.added}, updated {report.updated}, "
        f"unchanged {report.unchanged}."
    )


@tipline_cli.command("escalate-stale")
@click.option(
    "--hours",
    type=click.FloatRange(min=1),
    default=None,
    help="Hand over tips nobody acted on for this long (default TIPLINE_ESCALATE_AFTER_HOURS).",
)
@with_appcontext
def escalate_stale_command(hours: float | None) -> None:
    """Hand tips nobody acted on to the commune police (meant for cron, e.g. hourly)."""
    escalated = escalate_stale(hours=hours)
    db.session.commit()
    click.echo(f"Escalated {len(escalated)} unattended tips to the commune police.")
    for tip in escalated:
        click.echo(f"  {tip.reference}")


@units_cli.command("merge")
@click.argument("code")
@click.option("--into", "into_code", required=True, help="Code of the unit that takes it over.")
@with_appcontext
def units_merge(code: str, into_code: str) -> None:
    """Retire a unit and merge it into another (its tips and figures go along)."""
    unit, into = unit_by_any_code(code), unit_by_any_code(into_code)
    if unit is None or into is None:
        raise click.ClickException(f"no unit with code {code if unit is None else into_code!r}")
    try:
        retire_unit(unit, into)
    except ImportRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    audit(None, AuditAction.UNIT_RETIRED, into, detail=f"{unit.code} {unit.name} → {into.code}")
    db.session.commit()
    click.echo(f"{unit.name} ({unit.code}) retired and merged into {into.name} ({into.code}).")


@tipline_cli.command("review")
@click.option("--unit", "unit_code", default=None, help="Unit code (default: the root unit).")
@click.option("--period", default="12t", show_default=True, help="12t, YYYY, YYYY-MM or a range.")
@with_appcontext
def review_command(unit_code: str | None, period: str) -> None:
    """Print the annual review ("Báo cáo sơ kết") of a unit and period."""

    unit = (
        db.session.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code else root_unit()
    )
    if unit is None:
        raise click.ClickException(f"no unit with code {unit_code!r}")
    try:
        review = annual_review(unit, parse_period(period))
    except TiplineError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{review.unit.name} · {review.period.label}")
    for line in review.lines:
        value = "—" if line.value is None else f"{line.value:,}".replace(",", ".")
        click.echo(f"{line.number:>3}  {value:>9}  {line.label}  [{line.source_label}]")
