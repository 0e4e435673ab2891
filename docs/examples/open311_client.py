"""A partner's Open311 client for Tipline: list services, send a tip with a photo, read it.

    pip install requests
    python open311_client.py http://127.0.0.1:5000 tlp_…key… photo.jpg [commune-code]

The key comes from an administrator (/admin/api-keys/new, "send tips"). The commune code
is needed when the key covers more than one commune (see services/{code}.json).
"""

import sys
import uuid

import requests


def main(base: str, key: str, photo: str, commune: str | None = None) -> int:
    api = base.rstrip("/") + "/open311/v2"
    http = requests.Session()
    http.headers["X-Api-Key"] = key  # never in the query string

    services = http.get(f"{api}/services.json", timeout=10).json()
    for service in services:
        print(f"{service['service_code']:>14}  {service['service_name']}")

    fields = {
        "service_code": services[0]["service_code"],
        "description": "Có người lạ đột nhập kho lúa của thôn lúc nửa đêm.",
        "address_string": "Kho lúa đầu thôn",  # or lat and long
    }
    if commune:
        fields["attribute[commune]"] = commune
    # The same Idempotency-Key on a retry records nothing new (phones lose the network).
    retry_safe = {"Idempotency-Key": uuid.uuid4().hex}
    with open(photo, "rb") as image:
        answer = http.post(
            f"{api}/requests.json",
            data=fields,
            files={"media": (photo, image, "image/jpeg")},
            headers=retry_safe,
            timeout=60,
        )
    if answer.status_code not in (200, 201):
        print("refused:", answer.status_code, answer.json()[0]["description"])
        return 1
    posted = answer.json()[0]
    reference = posted["service_request_id"]
    print("reference:", reference, "follow-up code for the resident:", posted["follow_up_code"])

    (status,) = http.get(f"{api}/requests/{reference}.json", timeout=10).json()
    print("status:", status["status"], status.get("status_notes", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
