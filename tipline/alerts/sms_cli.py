"""`flask tipline sms test NUMBER`: check the gateway from the server, before anyone relies on it.

`flask tipline sms parts TEXT` says how many SMS a text takes (GSM-7 or UCS-2).
"""

from __future__ import annotations

import secrets

import click
from flask.cli import with_appcontext

from tipline.alerts import sms
from tipline.alerts.channels.base import DeliveryError

TEST_TEXT = "Tin nhan thu cua Tipline: cong SMS hoat dong."


@click.group("sms")
def sms_cli() -> None:
    """SMS alerts: check the gateway, count the parts of a text."""


@sms_cli.command("test")
@click.argument("number")
@with_appcontext
def sms_test_command(number: str) -> None:
    """Send one test text to NUMBER through the configured gateway (exit 1 if it fails)."""
    try:
        gateway = sms.driver()
    except sms.SmsSettingsError as error:
        raise click.ClickException(str(error)) from None
    if gateway is None:
        raise click.ClickException("SMS is off: set TIPLINE_SMS_DRIVER (android or http).")
    try:
        parts = sms.send_sms(number, TEST_TEXT, key=f"sms-test:{secrets.token_hex(8)}")
    except DeliveryError as error:
        raise click.ClickException(f"not sent: {error}") from None
    click.echo(f"Handed to the {gateway.name} gateway ({parts.count} SMS, {parts.encoding}).")


@sms_cli.command("parts")
@click.argument("text")
def sms_parts_command(text: str) -> None:
    """How many SMS TEXT takes, as is and without Vietnamese marks."""
    for label, value in (("as typed", text), ("without marks", sms.without_marks(text))):
        parts = sms.sms_parts(value)
        click.echo(f"{label}: {parts.count} SMS ({parts.encoding}, {parts.units} units)")
