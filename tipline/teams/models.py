"""Teams of the programme in a commune: steering committee, protection, patrol, mediation..."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.core.db import Base
from tipline.core.enums import LabelledEnum, enum_column
from tipline.core.timeutil import utcnow
from tipline.places.models import Unit


def _public_id() -> str:
    return secrets.token_urlsafe(12)


def active_on(established: date | None, dissolved: date | None, day: date) -> bool:
    """Whether a team founded and dissolved on these dates (None: unknown, not yet) exists."""
    return (established is None or established <= day) and (dissolved is None or dissolved > day)


class TeamKind(LabelledEnum):
    # The values are the names of the annual report's organisation figures.
    STEERING_COMMITTEE = "steering_committees"
    PROTECTION_TEAM = "protection_teams"
    SOCIAL_SECURITY_TEAM = "social_security_teams"
    PATROL_TEAM = "patrol_teams"
    MEDIATION_TEAM = "mediation_teams"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.STEERING_COMMITTEE: _l("Ban chỉ đạo ANTT xã"),
            cls.PROTECTION_TEAM: _l("Tổ bảo vệ ANTT thôn, bản, khu phố"),
            cls.SOCIAL_SECURITY_TEAM: _l("Tổ an ninh xã hội (cụm dân cư)"),
            cls.PATROL_TEAM: _l("Tổ tuần tra nhân dân"),
            cls.MEDIATION_TEAM: _l("Tổ hòa giải"),
        }


class MemberRole(LabelledEnum):
    LEADER = "leader"
    DEPUTY = "deputy"
    MEMBER = "member"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.LEADER: _l("Trưởng ban, tổ trưởng"),
            cls.DEPUTY: _l("Phó ban, tổ phó"),
            cls.MEMBER: _l("Thành viên"),
        }


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        CheckConstraint(
            "dissolved_on IS NULL OR established_on IS NULL OR established_on <= dissolved_on",
            name="dates_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    # The commune it belongs to (for counting), and where it works (commune, village...).
    commune_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[TeamKind] = mapped_column(enum_column(TeamKind, "team_kind"))
    name: Mapped[str] = mapped_column(String(160))
    established_on: Mapped[date | None] = mapped_column(Date)
    dissolved_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    commune: Mapped[Unit] = relationship(foreign_keys=[commune_id])
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id"
    )

    def active_on(self, day: date) -> bool:
        return active_on(self.established_on, self.dissolved_on, day)

    @property
    def leader(self) -> TeamMember | None:
        return next((m for m in self.members if m.role == MemberRole.LEADER), None)


class TeamMember(Base):
    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[MemberRole] = mapped_column(enum_column(MemberRole, "team_member_role"))
    phone: Mapped[str | None] = mapped_column(String(20))

    team: Mapped[Team] = relationship(back_populates="members")
