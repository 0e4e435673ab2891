"""The annual review ("Báo cáo sơ kết"): the seed's twelve lines, tips computed from the
counters and the rest entered as indicators or kept by the teams registry."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from tipline.core.privacy import SMALL_NUMBER
from tipline.core.templating import public_number
from tipline.core.timeutil import to_local, utcnow
from tipline.places.models import Unit
from tipline.reports.figures import Figures, Ref, cached, unit_figures
from tipline.reports.indicators import (
    REGISTRY_NAMES,
    IndicatorSums,
    indicator_sums,
    latest_indicator_period,
)
from tipline.reports.periods import Period
from tipline.tips.models import Outcome

TIPS = "tips"
INDICATOR = "indicator"
BOTH = "both"
NOT_TRACKED = "not_tracked"

REGISTRY = "registry"
REGISTRY_AND_INDICATOR = "registry_indicator"

SOURCE_LABELS = {
    TIPS: _l("Tính từ tin báo trên Tipline"),
    INDICATOR: _l("Chỉ tiêu do Ban chỉ đạo xã nhập"),
    REGISTRY: _l("Sổ theo dõi tổ, đội của các xã"),
    REGISTRY_AND_INDICATOR: _l(
        "Sổ theo dõi tổ, đội ở xã có sổ; chỉ tiêu do xã nhập ở các xã còn lại"
    ),
    BOTH: _l("Chỉ tiêu do xã nhập, cộng tin báo có kết quả tương ứng"),
    NOT_TRACKED: _l("Tipline không theo dõi"),
}


@dataclass
class ReviewLine:
    number: str
    label: str  # a lazy string: the review is cached, and read in either language
    value: int | None
    source: str
    entered: int | None = None
    from_tips: int | None = None

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS[self.source])


@dataclass
class Review:
    unit: Ref
    period: Period
    lines: list[ReviewLine]
    indicators: IndicatorSums
    figures: Figures


def annual_review(unit: Unit, period: Period) -> Review:
    """The review's figures in the seed's order (DOMAIN.md): tips computed, others entered."""

    def compute():
        figures, _ = unit_figures(unit, period)
        ind = indicator_sums(unit, period)
        v = ind.values
        mediated = figures.outcomes.get(Outcome.MEDIATED.value, 0)
        surrendered = figures.outcomes.get(Outcome.SURRENDERED.value, 0)

        def entered(name, number, label):
            source = INDICATOR
            if name in REGISTRY_NAMES and ind.communes_registry:
                mixed = ind.communes_entered_only
                source = REGISTRY_AND_INDICATOR if mixed else REGISTRY
            return ReviewLine(number, label, v[name], source, entered=v[name])

        lines = [
            entered("steering_committees", "1", _l("Ban chỉ đạo ANTT ở xã, phường, thị trấn")),
            entered("protection_teams", "2", _l("Tổ bảo vệ ANTT ở thôn, bản, khu phố")),
            entered("social_security_teams", "3", _l("Tổ an ninh xã hội (cụm dân cư)")),
            ReviewLine(
                "4",
                _l("Tin nhân dân cung cấp cho lực lượng Công an liên quan đến ANTT"),
                figures.received,
                TIPS,
                from_tips=figures.received,
            ),
            entered("patrol_teams", "5", _l("Tổ tuần tra nhân dân")),
            entered("mediation_teams", "6", _l("Tổ hòa giải")),
            entered("self_managed_areas", "7", _l("Khu dân cư tự quản về ANTT")),
            ReviewLine(
                "8",
                _l("Trường hợp mâu thuẫn, tranh chấp được hòa giải"),
                v["disputes_mediated"] + mediated,
                BOTH,
                entered=v["disputes_mediated"],
                from_tips=mediated,
            ),
            entered(
                "people_managed", "9", _l("Đối tượng vi phạm pháp luật được quản lý, giáo dục")
            ),
            entered("people_improved", "9a", _l("Trong đó: số đối tượng đã tiến bộ")),
            ReviewLine(
                "10",
                _l("Tin được tổ bảo vệ ANTT và Ban chỉ đạo ANTT xã trực tiếp xác minh, giải quyết"),
                figures.settled,
                TIPS,
                from_tips=figures.settled,
            ),
            satisfaction_line(figures),
            ReviewLine(
                "11",
                _l("Đối tượng bị truy nã được vận động ra đầu thú"),
                v["wanted_surrendered"] + surrendered,
                BOTH,
                entered=v["wanted_surrendered"],
                from_tips=surrendered,
            ),
            ReviewLine("12", _l("Lượt cán bộ, chiến sĩ Công an xuống cơ sở"), None, NOT_TRACKED),
        ]
        return Review(Ref.of(unit), period, lines, ind, figures)

    return cached(("review", unit.id, period), compute)


def satisfaction_line(figures: Figures) -> ReviewLine:
    """Tipsters who answered "Đã xong" after closing, out of all answers: withheld (—)
    behind fewer than 3 answers, like every small figure."""
    answered = figures.answered
    label = _l(
        "Người báo tin trả lời “Đã xong” khi được hỏi sau khi đóng tin (trên %(n)s câu trả lời)",
        n=public_number(answered),
    )
    value = figures.satisfied if answered >= SMALL_NUMBER else None
    return ReviewLine("10a", str(label), value, TIPS, from_tips=value)


def public_review(root: Unit) -> Review | None:
    period = latest_indicator_period(root)
    return annual_review(root, period) if period else None


def now_local_label() -> str:
    """The review's "made at" line, in local time to the minute."""
    return to_local(utcnow()).strftime("%H:%M %d/%m/%Y")
