"""Build tipline/places/data/units-2024.json.gz: Vietnam's units before the July 2025 reform.

The maintained package `vietnam-provinces` ships only the current structure; its version
0.6.0 (January 2025) is the last with districts. Both versions share one module name, so
the old data is kept as a data file instead of a second dependency:

    pip download --no-deps vietnam-provinces==0.6.0 -d /tmp/vp && unzip /tmp/vp/*.whl -d /tmp/vp
    python scripts/build_units_2024.py /tmp/vp/vietnam_provinces/data/nested-divisions.json

Version 0.6.0 labels every district "huyện" and every ward "xã"; the kind is taken from
the name instead ("Quận Ba Đình" is a quận, "Thị trấn Rừng Thông" a thị trấn).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tipline" / "places" / "data" / "units-2024.json.gz"
PROVINCE_KINDS = ("thành phố", "tỉnh")
DISTRICT_KINDS = ("thành phố", "thị xã", "quận", "huyện")
WARD_KINDS = ("thị trấn", "phường", "xã")


def kind_of(name: str, kinds: tuple[str, ...]) -> str:
    lowered = name.lower()
    for kind in kinds:
        if lowered.startswith(kind + " "):
            return kind
    raise ValueError(f"no known kind in {name!r}")


def main(source: str) -> None:
    provinces = json.loads(Path(source).read_text(encoding="utf-8"))
    data = []
    for province in provinces:
        districts = []
        for district in province["districts"]:
            wards = [
                [ward["code"], ward["name"], kind_of(ward["name"], WARD_KINDS)]
                for ward in district["wards"]
            ]
            districts.append(
                [
                    district["code"],
                    district["name"],
                    kind_of(district["name"], DISTRICT_KINDS),
                    wards,
                ]
            )
        data.append(
            [
                province["code"],
                province["name"],
                kind_of(province["name"], PROVINCE_KINDS),
                districts,
            ]
        )
    document = {
        "source": "vietnam-provinces 0.6.0 (data of the General Statistics Office, January 2025)",
        "structure": "2024",
        "provinces": data,
    }
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    # mtime=0: the same input gives the same bytes.
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    wards = sum(len(d[3]) for p in data for d in p[3])
    districts = sum(len(p[3]) for p in data)
    print(f"{OUT}: {len(data)} provinces, {districts} districts, {wards} communes")


if __name__ == "__main__":
    main(sys.argv[1])
