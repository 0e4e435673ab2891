from tipline.core.textsort import vi_key


def test_vietnamese_alphabet_and_numbers_sort_as_people_expect():
    names = ["Thôn Tây", "Thôn Đông", "Thôn 10", "Thôn 2", "Ân", "An", "Ăn", "Bình", "Ba"]
    assert sorted(names, key=vi_key) == [
        "An", "Ăn", "Ân", "Ba", "Bình", "Thôn 2", "Thôn 10", "Thôn Đông", "Thôn Tây",
    ]  # fmt: skip


def test_tones_sort_after_the_bare_letter():
    assert sorted(["Hà", "Ha", "Hạ", "Hả"], key=vi_key) == ["Ha", "Hà", "Hả", "Hạ"]
