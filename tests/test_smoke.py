"""The app starts, migrates, and answers its main pages."""


def test_home_page_shows_emergency_numbers(client, world):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for number in ("113", "114", "115"):
        assert f'href="tel:{number}"' in html
