"""What reports keep of their own: indicators entered per commune, and a log of exports."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.accounts.models import User
from tipline.core.db import Base
from tipline.core.timeutil import utcnow
from tipline.places.models import Unit
from tipline.teams.models import TeamKind
from tipline.tips.models import Tip

# The figures a commune enters (not tips), in the order of the annual review.
# The first five are the teams a registry counts (TeamKind's values name them).
INDICATOR_FIELDS: list[tuple[str, object]] = [
    (TeamKind.STEERING_COMMITTEE.value, _l("Ban chỉ đạo ANTT xã, phường, thị trấn")),
    (TeamKind.PROTECTION_TEAM.value, _l("Tổ bảo vệ ANTT ở thôn, bản, khu phố")),
    (TeamKind.SOCIAL_SECURITY_TEAM.value, _l("Tổ an ninh xã hội (cụm dân cư)")),
    (TeamKind.PATROL_TEAM.value, _l("Tổ tuần tra nhân dân")),
    (TeamKind.MEDIATION_TEAM.value, _l("Tổ hòa giải")),
    ("self_managed_areas", _l("Khu dân cư tự quản về ANTT")),
    ("disputes_mediated", _l("Vụ mâu thuẫn, tranh chấp hòa giải ngoài tin báo")),
    ("people_managed", _l("Đối tượng vi phạm pháp luật được quản lý, giáo dục tại cộng đồng")),
    ("people_improved", _l("Trong đó: số đối tượng tiến bộ")),
    ("wanted_surrendered", _l("Đối tượng truy nã ra đầu thú (ngoài tin báo)")),
]
INDICATOR_NAMES = [name for name, _ in INDICATOR_FIELDS]


class Indicator(Base):
    """Figures that are not tips, entered by a commune committee for one period."""

    __tablename__ = "report_indicators"
    __table_args__ = (
        UniqueConstraint("unit_id", "period_start", "period_end"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        CheckConstraint(
            "people_improved IS NULL OR people_managed IS NULL "
            "OR people_improved <= people_managed",
            name="improved_within_managed",
        ),
        *(
            CheckConstraint(f"{name} IS NULL OR {name} >= 0", name=f"{name}_not_negative")
            for name in INDICATOR_NAMES
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # None: not entered (shown as such), unlike 0.
    steering_committees: Mapped[int | None]
    protection_teams: Mapped[int | None]
    social_security_teams: Mapped[int | None]
    patrol_teams: Mapped[int | None]
    mediation_teams: Mapped[int | None]
    self_managed_areas: Mapped[int | None]
    disputes_mediated: Mapped[int | None]
    people_managed: Mapped[int | None]
    people_improved: Mapped[int | None]
    wanted_surrendered: Mapped[int | None]
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship()
    entered_by: Mapped[User | None] = relationship()


class ExportLog(Base):
    """Every export of tips: who, when, what was asked, and whether it held personal data."""

    __tablename__ = "report_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    format: Mapped[str] = mapped_column(String(8))
    filters: Mapped[str] = mapped_column(String(300), default="")
    rows: Mapped[int] = mapped_column(default=0)
    with_identity: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


# Reports look tips up by closing and first-response time for the medians.
Index("ix_tips_closed_at", Tip.closed_at)
