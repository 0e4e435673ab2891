"""Administrators make, read and revoke partner keys; every step is in the audit log."""

from __future__ import annotations

import re

from sqlalchemy import select

from tipline.accounts.models import AuditAction, AuditEntry, Role
from tipline.accounts.services import create_user, grant
from tipline.api.models import PartnerKey
from tipline.extensions import db

from .conftest import PASSWORD


def _create(client, **fields):
    data = {"name": "Tổng đài 1022 Thanh Hóa", "unit": "A", "may_submit": "y", "may_read": "y"}
    data.update(fields)
    return client.post("/admin/api-keys/new", data=data)


def test_a_key_is_shown_once_and_only_its_hash_is_kept(login, world):
    admin = login("admin")
    response = _create(admin)
    assert response.status_code == 200
    secret = re.search(r"tlp_[0-9a-f]{12}_[A-Za-z0-9_-]+", response.get_data(as_text=True)).group()
    key = db.session.scalar(select(PartnerKey))
    assert (key.name, key.unit_id, key.may_submit, key.may_read, key.may_name) == (
        "Tổng đài 1022 Thanh Hóa",
        world.commune_a.id,
        True,
        True,
        False,
    )
    assert secret not in (key.secret_hash, key.prefix)
    page = admin.get(f"/admin/api-keys/{key.prefix}").get_data(as_text=True)
    assert key.prefix in page and secret not in page
    assert secret not in admin.get("/admin/api-keys").get_data(as_text=True)
    # The key works on Open311 at once.
    assert admin.get("/open311/v2/services.json", headers={"X-Api-Key": secret}).status_code == 200


def test_creation_and_revocation_are_audited_and_uses_are_listed(login, world):
    admin = login("admin")
    secret = re.search(r"tlp_\w+_[\w-]+", _create(admin).get_data(as_text=True)).group()
    key = db.session.scalar(select(PartnerKey))
    admin.get("/open311/v2/requests.json", headers={"X-Api-Key": secret})
    page = admin.get(f"/admin/api-keys/{key.prefix}").get_data(as_text=True)
    assert "/open311/v2/requests.{fmt}" in page
    revoked = admin.post(f"/admin/api-keys/{key.prefix}/revoke")
    assert revoked.status_code == 303
    db.session.expire_all()
    assert db.session.get(PartnerKey, key.id).revoked_at is not None
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [AuditAction.API_KEY_CREATED, AuditAction.API_KEY_REVOKED]
    assert admin.get("/open311/v2/requests.json", headers={"X-Api-Key": secret}).status_code == 403
    assert "Tạo khóa API" in admin.get("/admin/audit").get_data(as_text=True)


def test_invalid_form_is_422_and_creates_nothing(login, world):
    admin = login("admin")
    assert _create(admin, name="").status_code == 422
    assert _create(admin, unit="ZZ").status_code == 422
    assert db.session.scalar(select(PartnerKey)) is None


def test_only_administrators_of_the_unit_manage_its_keys(app, login, world):
    admin = login("admin")
    _create(admin)
    key = db.session.scalar(select(PartnerKey))
    police = login("police_a")
    assert police.get("/admin/api-keys").status_code == 404
    assert police.post(f"/admin/api-keys/{key.prefix}/revoke").status_code == 404
    # An administrator of commune B does not see commune A's keys.
    other = create_user("admin_b", "Admin B", PASSWORD)
    grant(other, Role.ADMIN, world.commune_b)
    db.session.commit()
    admin_b = app.test_client()
    admin_b.post("/staff/login", data={"username": "admin_b", "password": PASSWORD})
    assert key.prefix not in admin_b.get("/admin/api-keys").get_data(as_text=True)
    assert admin_b.get(f"/admin/api-keys/{key.prefix}").status_code == 404
    assert admin_b.post(f"/admin/api-keys/{key.prefix}/revoke").status_code == 404
    assert _create(admin_b, unit="A").status_code == 422  # not a choice for them
