"""Write ICU's Vietnamese order (vi-u-kn) of real unit names, for tests/test_textsort.py.

Run from the project root: `.venv/bin/python tests/data/icu_order.py`. Node's built-in
Intl.Collator("vi", {numeric: true}) is ICU's collation (Node 20 ships full ICU), so no
PyICU build is needed. Each list holds [name, kind, same] in ICU's order of the proper name
(the name without its kind word); `same` is true when ICU finds it equal to the previous one.
"""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

NODE = r"""
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const collator = new Intl.Collator("vi", {numeric: true});
const out = {icu: process.versions.icu, node: process.version, lists: {}};
for (const [name, items] of Object.entries(input)) {
  const sorted = items.slice().sort((a, b) => collator.compare(a[2], b[2]));
  out.lists[name] = sorted.map((item, i) =>
    [item[0], item[1], i > 0 && collator.compare(sorted[i - 1][2], item[2]) === 0]);
}
process.stdout.write(JSON.stringify(out));
"""


def proper(name: str, kind: str) -> str:
    """The name without its kind word, runs of spaces as one (the package has "Xã  Đại Hải")."""
    name = " ".join(name.split())
    prefix = kind + " "
    return name[len(prefix) :] if name.lower().startswith(prefix.lower()) else name


def communes_2025() -> list[list[str]]:
    from vietnam_provinces import Ward

    return [[w.name, w.division_type.value] for w in Ward.iter_all()]


def units_2024() -> list[list[str]]:
    """Provinces, districts and communes of the 2024 structure (the app's bundled file)."""
    with gzip.open(ROOT / "tipline/places/data/units-2024.json.gz", "rt", encoding="utf-8") as f:
        document = json.load(f)
    rows = []
    for _, p_name, p_kind, districts in document["provinces"]:
        rows.append([p_name, p_kind])
        for _, d_name, d_kind, wards in districts:
            rows.append([d_name, d_kind])
            rows.extend([w_name, w_kind] for _, w_name, w_kind in wards)
    return rows


WORDS = [
    "Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Tân", "Phú", "Thọ", "Yên", "Hòa",
    "Bình", "An", "Phúc", "Lộc", "Quang", "Minh", "Thành", "Hưng", "Vinh", "Xuân", "Thịnh",
    "Cát", "Đồng", "Sơn", "Hải", "Long", "Mỹ", "Nghĩa",
]  # fmt: skip
MOUNTAIN = ["Mường", "Khò", "Cha", "Lặn", "Piềng", "Na", "Hón", "Chiềng", "Poọng", "Đanh"]
# Village names as communes write them: kind words, numbers with letters, neighbours that
# differ by a space, a tone or a base letter.
REAL = [
    ("Bản Na Mèo", "bản"), ("Bản Nam Xuân", "bản"), ("Bản Nàng", "bản"), ("Bản Ná", "bản"),
    ("Thôn Ba Đình", "thôn"), ("Thôn Bát Mọt", "thôn"), ("Thôn Bà Triệu", "thôn"),
    ("Thôn Hà Long", "thôn"), ("Thôn Hạc Thành", "thôn"), ("Thôn Hà", "thôn"),
    ("Thôn Đông", "thôn"), ("Thôn Đồng", "thôn"), ("Thôn Đông Hải", "thôn"), ("Thôn Dông", "thôn"),
    ("Làng Vạc", "làng"), ("Làng Ươm", "làng"), ("Làng Ưng", "làng"), ("Làng Ủng", "làng"),
    ("Xóm 5B", "xóm"), ("Xóm 5", "xóm"), ("Xóm 5A", "xóm"), ("Xóm 15", "xóm"),
    ("Ấp Bà Điểm", "ấp"), ("Ấp Ba Điểm", "ấp"), ("Ấp An Thới", "ấp"), ("Ấp Ăn Thới", "ấp"),
    ("Khu phố 1A", "khu phố"), ("Khu phố 1", "khu phố"), ("Khu phố 12", "khu phố"),
    ("Khu 3", "khu"), ("Khu 10", "khu"), ("Tiểu khu 2", "tiểu khu"), ("Tiểu khu 11", "tiểu khu"),
    ("Tổ dân phố Quyết Thắng", "tổ dân phố"), ("Tổ dân phố Quyết Tiến", "tổ dân phố"),
    ("Buôn Ea Wy", "buôn"), ("Buôn Ea Yông", "buôn"), ("Buôn Ea Zô", "buôn"),
    ("Buôn Ea Fô", "buôn"),
    ("Plei Ốp", "plei"), ("Plei Ơi", "plei"), ("Sóc Mới", "sóc"), ("Khóm 4", "khóm"),
    ("Tổ 7", "tổ"), ("Tổ 17", "tổ"), ("Khu dân cư số 2", "khu dân cư"),
    ("Thôn Kim Sơn", "thôn"), ("Thôn Kim Sơn 1", "thôn"), ("Thôn Kim Sơn 2", "thôn"),
    ("Thôn Kim Sơn Đông", "thôn"), ("Thôn Kim-Sơn", "thôn"), ("Thôn Kỳ Sơn", "thôn"),
]  # fmt: skip


def villages() -> dict[str, list[list[str]]]:
    lists = {
        "villages_numbered": [[f"Thôn {n}", "thôn"] for n in range(1, 25)]
        + [[f"Tổ dân phố {n}", "tổ dân phố"] for n in range(1, 25)],
        "villages_words": [[f"Thôn {a} {b}", "thôn"] for a, b in itertools.permutations(WORDS, 2)],
        "villages_mountain": [[f"Bản {w} {n}", "bản"] for w in MOUNTAIN for n in range(1, 13)]
        + [[f"Bản {w}", "bản"] for w in MOUNTAIN],
        "villages_real": [list(row) for row in REAL],
    }
    return lists


def main() -> None:
    lists = {"communes_2025": communes_2025(), "units_2024": units_2024(), **villages()}
    payload = {name: [[n, k, proper(n, k)] for n, k in rows] for name, rows in lists.items()}
    result = subprocess.run(
        ["node", "-e", NODE], input=json.dumps(payload), capture_output=True, text=True, check=True
    )
    out = json.loads(result.stdout)
    document = {
        "about": "ICU's Vietnamese collation with numeric ordering (vi-u-kn) of the proper names "
        "(kind word removed): Intl.Collator('vi', {numeric: true}) in Node "
        f"{out['node']}, ICU {out['icu']}. Written by tests/data/icu_order.py.",
        "lists": out["lists"],
    }
    # One unit a line: readable diffs when the package's data changes.
    lines = ["{", f'"about": {json.dumps(document["about"], ensure_ascii=False)},', '"lists": {']
    for index, (name, rows) in enumerate(document["lists"].items()):
        lines.append(f'"{name}": [')
        lines += [json.dumps(row, ensure_ascii=False) + "," for row in rows]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("]" + ("," if index < len(document["lists"]) - 1 else ""))
    lines += ["}", "}"]
    (HERE / "icu-vi-order.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, rows in out["lists"].items():
        print(f"{name}: {len(rows)}")


if __name__ == "__main__":
    main()
