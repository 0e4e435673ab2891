"""The e-mail channel: one message per delivery over SMTP (TIPLINE_SMTP_*).

The target is the account's id: the address stays in staff_emails, never in a delivery
row or an error. The message carries the alert's words only (reference, why, urgency,
the link); its Message-ID is the delivery's key, which lets a mail client fold a repeat,
but SMTP itself has no idempotency: a send cut off mid-way may go out twice (counted).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import ClassVar

from flask import current_app
from flask_babel import gettext as _

from tipline.alerts.channels import register
from tipline.alerts.channels.base import Alert, DeliveryError
from tipline.alerts.models import StaffEmail
from tipline.extensions import db


class EmailChannel:
    name: ClassVar[str] = "email"
    idempotent: ClassVar[bool] = False

    def available(self) -> bool:
        return bool(current_app.config.get("TIPLINE_SMTP_HOST"))

    def staff_targets(self, user_id: int) -> list[str]:
        return [str(user_id)] if db.session.get(StaffEmail, user_id) is not None else []

    def resident_targets(self, tip_id: int) -> list[str]:
        return []

    def send(self, target: str, alert: Alert, *, timeout: float) -> None:
        address = db.session.get(StaffEmail, int(target)) if target.isdigit() else None
        if address is None:
            raise DeliveryError("no e-mail address for this account", gone=True)
        config = current_app.config
        try:
            with smtplib.SMTP(
                config["TIPLINE_SMTP_HOST"], config["TIPLINE_SMTP_PORT"], timeout=timeout
            ) as smtp:
                if config.get("TIPLINE_SMTP_STARTTLS"):
                    smtp.starttls()
                if config.get("TIPLINE_SMTP_USER"):
                    smtp.login(
                        config["TIPLINE_SMTP_USER"], config.get("TIPLINE_SMTP_PASSWORD") or ""
                    )
                smtp.send_message(compose_mail(alert, address.email))
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError("SMTP: the server refused the address", retry=False) from error
        except smtplib.SMTPResponseException as error:
            # 4xx: try later; 5xx: the server will not take it.
            raise DeliveryError(
                f"SMTP {error.smtp_code}", retry=400 <= error.smtp_code < 500
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP: {type(error).__name__}") from error

    def forget(self, target: str) -> None:
        return None  # the address is the person's setting: they remove it themselves


def compose_mail(alert: Alert, to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = alert.title
    mail["From"] = current_app.config["TIPLINE_MAIL_FROM"]
    mail["To"] = to
    mail["Message-ID"] = make_msgid(idstring=alert.key)
    lines = [
        alert.title,
        "",
        alert.body,
        "",
        _("Xem và xử lý (cần đăng nhập): %(link)s", link=alert.url),
        "",
        _("Thư này không chứa nội dung tin báo hay danh tính người báo tin."),
    ]
    mail.set_content("\n".join(str(line) for line in lines))
    return mail


register(EmailChannel())
