"""The annual review as an administrative document (Nghị định 30/2020/NĐ-CP, Phụ lục I):
the parts and their words, written out by review_pdf.py and review_docx.py alike.

An office files such a document in Vietnamese, whatever the language of the page it was
downloaded from. It is a draft: the number, the day and the signature stay blank until
the office issues it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _

from tipline.core.numbers import number
from tipline.places.models import Letterhead
from tipline.reports.review import Review

NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
KIND = "BÁO CÁO"
KIND_SYMBOL = "BC"  # báo cáo, in "Số: …/BC-…"
BLANK = "\u00a0" * 6  # where the office writes the number and the day by hand


@dataclass
class OfficialDocument:
    parent_body: str  # cơ quan chủ quản (may be empty)
    body: str  # cơ quan ban hành
    number: str  # "Số:       /BC-UBND"
    place_date: str  # "Thanh Hóa, ngày       tháng       năm 2026"
    subject: list[str]  # trích yếu, under "BÁO CÁO"
    intro: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]  # the "166/166 xã …" and "Lập lúc …" lines
    recipients: list[str]
    signer_title: list[str]
    signer_name: str
    nation: str = NATION
    motto: str = MOTTO
    kind: str = KIND

    @property
    def file_title(self) -> str:
        return f"{self.kind} {' '.join(self.subject)}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def review_document(
    review: Review, letterhead: Letterhead, made_at: str, year: int
) -> OfficialDocument:
    """The review's figures in the document's parts, in Vietnamese."""
    with force_locale("vi"):
        header = [_("TT"), _("Chỉ tiêu"), _("Số liệu"), _("Nguồn")]
        rows = []
        for line in review.lines:
            source = line.source_label
            if line.source == "both":
                source += ": " + _(
                    "nhập %(e)s, tin báo %(t)s", e=number(line.entered), t=number(line.from_tips)
                )
            rows.append([line.number, str(line.label), number(line.value), source])
        entered = _(
            "%(entered)s/%(total)s xã, phường đã nhập chỉ tiêu cho kỳ này; %(registry)s xã, "
            "phường có sổ theo dõi tổ, đội (số tổ, đội của các xã này lấy từ sổ, tính đến "
            "ngày cuối kỳ).",
            entered=review.indicators.communes_entered,
            total=review.indicators.communes_total,
            registry=review.indicators.communes_registry,
        )
        made = _("Lập lúc %(when)s từ Tipline.", when=made_at)
    body = " ".join(letterhead.body.split()).upper()
    return OfficialDocument(
        parent_body=" ".join(letterhead.parent_body.split()).upper(),
        body=body,
        number=f"Số: {BLANK}/{KIND_SYMBOL}-{letterhead.symbol.strip()}",
        place_date=f"{letterhead.place.strip()}, ngày {BLANK} tháng {BLANK} năm {year}",
        subject=[
            "Sơ kết xây dựng mô hình “Khu dân cư an toàn về an ninh, trật tự”",
            f"tại {review.unit.name}, kỳ {review.period.label}",
        ],
        intro=(
            "Kết quả xây dựng mô hình “Khu dân cư an toàn về an ninh, trật tự” tại "
            f"{review.unit.name} trong kỳ {review.period.label}, theo các chỉ tiêu của "
            "Hội nghị sơ kết, như sau:"
        ),
        header=header,
        rows=rows,
        notes=[entered, made],
        recipients=_lines(letterhead.recipients),
        signer_title=[line.upper() for line in _lines(letterhead.signer_title)],
        signer_name=" ".join(letterhead.signer_name.split()),
    )
