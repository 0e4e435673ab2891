"""Staff notifications: unread counts live in the app; email leaves from an outbox.

The workflow writes an OutboxMessage in the same transaction as the change it reports
(`flask tipline notify send`, run by cron, delivers them). A message says which tip and
why, and links to the staff page: never the tipster's identity, never the tip's text
(a resident may have written names in it).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from tipline.accounts.models import Role, RoleAssignment, User
from tipline.accounts.permissions import acting_roles
from tipline.core.templating import local_datetime
from tipline.core.timeutil import utcnow
from tipline.extensions import db
from tipline.tips.models import OutboxMessage, StaffEmail, Tip
from tipline.tips.workflow import ESCALATED, TIPSTER_REPLY, URGENT_TIP

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SendReport:
    sent: int
    emails: int
    failed: int


def recipients(message: OutboxMessage, tip: Tip) -> list[str]:
    """Staff with an email who can act on the tip and want this kind of message."""
    ancestor_ids = tip.unit.ancestor_ids
    query = (
        select(User, StaffEmail)
        .join(StaffEmail, StaffEmail.user_id == User.id)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id.in_(ancestor_ids), User.active.is_(True))
        .distinct()
    )
    emails = set()
    for user, settings in db.session.execute(query):
        roles = acting_roles(tip, user)
        if message.kind == ESCALATED:
            wanted = Role.COMMUNE_POLICE in roles and settings.urgent_tips
        elif message.kind == TIPSTER_REPLY:
            wanted = bool(roles) and settings.tipster_replies
        else:
            wanted = bool(roles - {Role.OFFICER}) and settings.urgent_tips
        if wanted:
            emails.add(settings.email)
    return sorted(emails)


def compose(message: OutboxMessage, tip: Tip, to: str) -> EmailMessage:
    link = current_app.config["TIPLINE_BASE_URL"].rstrip("/") + f"/staff/tips/{tip.public_id}"
    subjects = {
        URGENT_TIP: _("Tin báo khẩn mới %(ref)s", ref=tip.reference),
        ESCALATED: _("Tin báo %(ref)s được chuyển Công an xã", ref=tip.reference),
        TIPSTER_REPLY: _("Người báo tin trả lời tin %(ref)s", ref=tip.reference),
    }
    lines = [
        subjects.get(message.kind, tip.reference),
        "",
        _("Mã tin: %(ref)s", ref=tip.reference),
        _("Loại vụ việc: %(name)s", name=tip.category.name),
        _("Địa bàn: %(name)s", name=_place(tip)),
        _("Gửi lúc: %(at)s", at=local_datetime(tip.submitted_at)),
        _("Mức ưu tiên: %(p)s", p=tip.priority.label),
        "",
        _("Xem và xử lý (cần đăng nhập): %(link)s", link=link),
        "",
        _("Thư này không chứa nội dung tin báo hay danh tính người báo tin."),
    ]
    mail = EmailMessage()
    mail["Subject"] = subjects.get(message.kind, tip.reference)
    mail["From"] = current_app.config["TIPLINE_MAIL_FROM"]
    mail["To"] = to
    mail.set_content("\n".join(str(line) for line in lines))
    return mail


def _place(tip: Tip) -> str:
    commune = tip.unit.commune
    if commune is not None and commune.id != tip.unit.id:
        return f"{tip.unit.name}, {commune.name}"
    return tip.unit.name


def send_pending(limit: int = 200) -> SendReport:
    """Deliver waiting messages over SMTP; the caller commits. Without a host: nothing."""
    config = current_app.config
    if not config.get("TIPLINE_SMTP_HOST"):
        return SendReport(0, 0, 0)
    pending = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    sent = emails = failed = 0
    if not pending:
        return SendReport(0, 0, 0)
    with _connect(config) as smtp:
        for message in pending:
            tip = db.session.get(Tip, message.tip_id)
            message.attempts += 1
            try:
                for to in recipients(message, tip) if tip is not None else []:
                    smtp.send_message(compose(message, tip, to))
                    emails += 1
            except smtplib.SMTPException:
                failed += 1
                continue
            message.sent_at = utcnow()
            sent += 1
    return SendReport(sent, emails, failed)


def _connect(config) -> smtplib.SMTP:
    smtp = smtplib.SMTP(
        config["TIPLINE_SMTP_HOST"],
        config["TIPLINE_SMTP_PORT"],
        timeout=config["TIPLINE_SMTP_TIMEOUT"],
    )
    if config.get("TIPLINE_SMTP_STARTTLS"):
        smtp.starttls()
    if config.get("TIPLINE_SMTP_USER"):
        smtp.login(config["TIPLINE_SMTP_USER"], config.get("TIPLINE_SMTP_PASSWORD") or "")
    return smtp
