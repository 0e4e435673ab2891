"""Open311's writing side: the place, identity and photos of a POSTed request, read from
its form (the schema has checked types and lengths; these check meaning and scope)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from tipline.api.media import MediaError, fetch_media
from tipline.api.models import PartnerKey
from tipline.api.open311_records import Open311Error
from tipline.core.text import clean_text, is_phone, normalize_phone
from tipline.media.photos import PhotoError, process_photo
from tipline.places.models import Unit, UnitLevel
from tipline.places.services import commune_by_code, unit_by_code
from tipline.tips.models import IdentityTier
from tipline.tips.services import MAX_PHOTOS, store_photo


def submission_key(key_id: int, token: str) -> str:
    # Keys of different partners (and of the resident form) never meet.
    return f"open311:{key_id}:{token}"


def text(form, name: str, limit: int) -> str | None:
    value = clean_text(form.get(name) or "")
    if value and len(value) > limit:
        raise Open311Error(400, _l("%(name)s dài quá %(n)d ký tự.", name=name, n=limit))
    return value or None


def place(form, key: PartnerKey) -> Unit:
    """The village or commune of a new tip, inside the key's scope."""
    scope = key.unit
    commune_code = text(form, "attribute[commune]", 40)
    village_code = text(form, "attribute[village]", 40)
    if commune_code:
        commune = commune_by_code(commune_code)
        if commune is None:
            raise Open311Error(400, _l("Không có xã, phường với mã này."))
    elif scope.level in (UnitLevel.COMMUNE, UnitLevel.VILLAGE):
        commune = scope.commune
    else:
        raise Open311Error(400, _l("Hãy ghi xã, phường (attribute[commune])."))
    unit = commune
    if village_code:
        village = unit_by_code(village_code)
        if village is None or village.parent_id != commune.id:
            raise Open311Error(400, _l("Thôn này không thuộc xã, phường đã chọn."))
        unit = village
    elif scope.level == UnitLevel.VILLAGE and scope.commune.id == commune.id:
        unit = scope
    if not scope.contains(unit):
        raise Open311Error(403, _l("Địa bàn này nằm ngoài phạm vi của khóa API."))
    return unit


def identity(form, key: PartnerKey) -> tuple[IdentityTier, str | None, str | None]:
    names = [text(form, n, 60) for n in ("first_name", "last_name")]
    phone = normalize_phone(text(form, "phone", 30))
    email = text(form, "email", 254)
    if not any(names) and not phone and not email:
        return IdentityTier.ANONYMOUS, None, None
    if not key.may_name:
        raise Open311Error(
            403, _l("Khóa API này chỉ được gửi tin ẩn danh: hãy bỏ họ tên, điện thoại, email.")
        )
    name = " ".join(n for n in names if n)
    if not name or not phone:
        raise Open311Error(400, _l("Tin có danh tính cần cả họ tên và số điện thoại."))
    if not is_phone(phone):
        raise Open311Error(400, _l("Số điện thoại không đúng (ví dụ: 0912 345 678)."))
    # The email is not kept: a tip stores only name and phone (DOMAIN.md, identity tiers).
    return IdentityTier.CONFIDENTIAL, name, phone


def photos(form, uploads) -> list:
    """The uploaded files and the media_url's image, cleaned and stored."""
    config = current_app.config
    blobs = []
    for upload in uploads:
        if upload and upload.filename is not None:
            blobs.append(upload.read(config["TIPLINE_MAX_PHOTO_BYTES"] + 1))
    url = text(form, "media_url", 2000)
    if url:
        try:
            blobs.append(fetch_media(url))
        except MediaError as error:
            raise Open311Error(400, error.message) from None
    if len(blobs) > MAX_PHOTOS:
        raise Open311Error(400, _l("Mỗi tin báo có tối đa %(n)d ảnh.", n=MAX_PHOTOS))
    cleaned = []
    for data in blobs:
        try:
            processed = process_photo(
                data,
                max_bytes=config["TIPLINE_MAX_PHOTO_BYTES"],
                max_pixels=config["TIPLINE_MAX_PHOTO_PIXELS"],
            )
        except PhotoError as error:
            raise Open311Error(400, error.message) from None  # the spec's code for bad input
        cleaned.append(processed)
    return [store_photo(p) for p in cleaned]
