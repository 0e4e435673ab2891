"""The privacy page: what is kept for each tier, who sees it, for how long (issue 5)."""

from __future__ import annotations

import re

import pytest


def page(client, url="/rieng-tu") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_privacy_page_figures_come_from_the_settings(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "TIPLINE_RETENTION_DAYS", 200)
    monkeypatch.setitem(app.config, "TIPLINE_RETENTION_PHOTOS", True)
    monkeypatch.setitem(app.config, "TIPLINE_TIPSTER_SESSION_MINUTES", 9)
    monkeypatch.setitem(app.config, "TIPLINE_TIPSTER_REPLY_DAYS", 5)
    html = page(client)
    assert "được xóa 200 ngày sau khi tin báo đóng" in html
    assert "Ảnh cũng được xóa cùng lúc." in html
    assert "giữ một cookie trong 9 phút" in html
    assert "bạn còn nhắn được 5 ngày" in html
    assert "đổi mỗi giờ" in html  # the limiter's hourly key
    monkeypatch.setitem(app.config, "TIPLINE_RETENTION_PHOTOS", False)
    assert "Ảnh được giữ cùng hồ sơ tin" in page(client)


def test_privacy_page_covers_each_tier_and_what_is_never_kept(client, world):
    html = page(client)
    for tier in ("Ẩn danh", "Giữ bí mật danh tính", "Công khai danh tính với tổ xử lý"):
        assert f"<h3>{tier}</h3>" in html
    assert "Tổ bảo vệ ANTT thôn không bao giờ thấy chúng" in html
    assert "mỗi lần xem đều được ghi lại" in html
    for never in ("Địa chỉ IP", "user agent", "chỉ lưu đến phút", "vị trí GPS"):
        assert never in html


def test_privacy_page_obeys_the_content_security_policy(client, world):
    html = page(client)
    assert "style=" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all('src="' in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_privacy_page_in_english_through_the_prefix(client, world):
    html = page(client, "/en/rieng-tu")
    assert '<html lang="en"' in html
    assert 'href="/en/gui-tin"' in html  # links stay in English


@pytest.mark.parametrize("url", ["/", "/gui-tin?xa=A", "/tra-cuu"])
def test_privacy_page_is_linked_from_the_footer(client, world, url):
    assert 'href="/rieng-tu"' in page(client, url)


def test_submit_form_explains_each_tier_and_links_the_privacy_page(client, world):
    html = page(client, "/gui-tin?xa=A")
    assert "Không ai biết bạn là ai, kể cả công an" in html
    assert "Tổ bảo vệ ANTT thôn không bao giờ thấy danh tính của bạn" in html
    assert "chỉ Công an xã xem được" in html
    assert "Chúng tôi lưu gì, ai xem được và trong bao lâu" in html
