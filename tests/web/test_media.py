"""Design media through the API: pictures made safe, production files known by content, and who may fetch each."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from uuid import UUID

from fastapi.testclient import TestClient
from PIL import Image

from tests.api.support import Cast, design_body, ok, payment_provider_confirms, place
from tests.web.conftest import caught_up
from vardekedja.runtime import Runtime


def jpeg_with_metadata(width: int = 2400, height: int = 1600) -> bytes:
    image = Image.new("RGB", (width, height), (40, 120, 70))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (59.0, 20.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"private note")
    return out.getvalue()


def upload(party: object, design_id: str, kind: str, name: str, content: bytes, content_type: str = "application/octet-stream"):  # type: ignore[no-untyped-def]  # noqa: E501
    return party.api.client.post(  # type: ignore[attr-defined]
        f"/v1/designs/{design_id}/media", data={"kind": kind}, files={"file": (name, content, content_type)},
        headers={"Authorization": f"Bearer {party.key}"},  # type: ignore[attr-defined]
    )


def attached_events(runtime: Runtime, design_id: str) -> list[dict[str, object]]:
    """The media recorded in the design's stored events (read from the event store itself)."""
    stored = runtime.marketplace.recorder.select_events(UUID(design_id))
    return [json.loads(e.state)["media"] for e in stored if e.topic == "vardekedja:Design.MediaAttached"]


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("cut-list.txt", "oak 45x95 x 12")
    return out.getvalue()


def test_a_picture_is_stored_re_encoded_resized_and_without_its_metadata(client: TestClient, runtime: Runtime,
                                                                        cast: Cast) -> None:  # fmt: skip
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    sent = jpeg_with_metadata()
    attached = ok(upload(cast.designer, draft["id"], "picture", "../../etc/bänk.jpg", sent, "image/jpeg"), 201)
    assert attached["kind"] == "picture" and attached["filename"] == "bänk.webp"
    caught_up(runtime)
    fetched = client.get(f"/v1/designs/{draft['id']}/media/{attached['id']}",
                         headers={"Authorization": f"Bearer {cast.designer.key}"})  # fmt: skip
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/webp"
    assert hashlib.sha256(fetched.content).hexdigest() == attached["sha256"] and len(fetched.content) == attached["bytes"]
    picture = Image.open(io.BytesIO(fetched.content))
    assert max(picture.size) == 1600 and not picture.getexif() and b"SecretCam" not in fetched.content
    assert b"private note" not in fetched.content
    thumb = client.get(f"/v1/designs/{draft['id']}/media/{attached['id']}", params={"size": "thumb"},
                       headers={"Authorization": f"Bearer {cast.designer.key}"})  # fmt: skip
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 400
    again = ok(upload(cast.designer, draft["id"], "picture", "bänk.jpg", sent, "image/jpeg"), 201)
    assert again["id"] == attached["id"]  # the same file is the same media: nothing new recorded


def test_the_hash_of_each_file_is_in_the_designs_events(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    attached = ok(upload(cast.designer, draft["id"], "production_file", "ritning.zip", zip_file()), 201)
    [event] = attached_events(runtime, draft["id"])
    assert event["sha256"] == attached["sha256"] == hashlib.sha256(zip_file()).hexdigest()
    assert event["revision"] == 1 and event["content_type"] == "application/zip"


def test_pictures_of_a_published_revision_are_public_and_a_drafts_are_not(client: TestClient, runtime: Runtime,
                                                                           cast: Cast) -> None:  # fmt: skip
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    attached = ok(upload(cast.designer, draft["id"], "picture", "bänk.png", _png(), "image/png"), 201)
    caught_up(runtime)
    path = f"/v1/designs/{draft['id']}/media/{attached['id']}"
    assert client.get(path).status_code == 404
    assert client.get(path, headers={"Authorization": f"Bearer {cast.other_designer.key}"}).status_code == 404
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    caught_up(runtime)
    public = client.get(path)
    assert public.status_code == 200 and "immutable" in public.headers["cache-control"]
    page = client.get(f"/designs/{draft['id']}").text
    assert f"/v1/designs/{draft['id']}/media/{attached['id']}?size=medium" in page


def test_production_files_go_only_to_those_entitled(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    attached = ok(upload(cast.designer, draft["id"], "production_file", "ritning.pdf", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj"), 201)
    assert attached["filename"] == "ritning.pdf"
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    order = place(cast.buyer, (draft["id"], 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    caught_up(runtime)
    path = f"/v1/designs/{draft['id']}/media/{attached['id']}"

    def status(party: object | None) -> int:
        headers = {} if party is None else {"Authorization": f"Bearer {party.key}"}  # type: ignore[attr-defined]
        return client.get(path, headers=headers).status_code

    assert [status(p) for p in (None, cast.buyer, cast.other_designer, cast.workshop, cast.area_company)] == [404] * 5
    assert [status(p) for p in (cast.designer, cast.operator, cast.auditor)] == [200] * 3
    [line] = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"]
    ok(cast.workshop.post(f"/v1/production-orders/{line['production_order_id']}/accept"))
    caught_up(runtime)
    held = client.get(path, headers={"Authorization": f"Bearer {cast.workshop.key}"})
    assert held.status_code == 200 and "attachment" in held.headers["content-disposition"]
    assert status(cast.other_workshop) == 404


def test_an_upload_that_lies_about_its_type_is_refused(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    html = b"<html><script>alert(1)</script></html>"
    for kind, name, content, content_type in [
        ("picture", "bänk.jpg", html, "image/jpeg"),
        ("picture", "bänk.png", b"%PDF-1.7 not a picture", "image/png"),
        ("production_file", "ritning.pdf", html, "application/pdf"),
        ("production_file", "ritning.dxf", b"MZ\x90\x00 an executable", "image/vnd.dxf"),
        ("production_file", "bild.svg", b"GIF89a", "image/svg+xml"),
    ]:
        refused = upload(cast.designer, draft["id"], kind, name, content, content_type)
        assert refused.status_code == 422, (kind, name, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert attached_events(runtime, draft["id"]) == []
    for name, content in [("a.dxf", b"  0\nSECTION\n  2\nHEADER\n"), ("a.step", b"ISO-10303-21;\nHEADER;"),
                          ("a.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
                          ("a.zip", zip_file())]:  # fmt: skip
        ok(upload(cast.designer, draft["id"], "production_file", name, content), 201)


def test_sizes_are_enforced_as_the_upload_streams(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    big = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024)
    refused = upload(cast.designer, draft["id"], "picture", "big.jpg", big, "image/jpeg")
    assert refused.status_code == 413 and "10 MiB" in refused.json()["detail"]
    over = upload(cast.designer, draft["id"], "production_file", "big.zip", b"PK\x03\x04" + b"\0" * (50 * 1024 * 1024))
    assert over.status_code == 413
    assert not any((runtime.settings.data_dir / "media" / "incoming").iterdir())
    # Only the upload route takes more than the 1 MiB that JSON bodies may have.
    assert cast.designer.post("/v1/designs", content=b"{" + b" " * (1 << 20) + b"}",
                              headers={"Content-Type": "application/json"}).status_code == 413  # fmt: skip


def test_only_the_owner_attaches_and_only_to_a_draft(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    assert upload(cast.other_designer, draft["id"], "picture", "a.png", _png()).status_code == 404
    assert upload(cast.buyer, draft["id"], "picture", "a.png", _png()).status_code == 403
    ok(cast.designer.post(f"/v1/designs/{draft['id']}/publish"))
    caught_up(runtime)
    assert upload(cast.designer, draft["id"], "picture", "a.png", _png()).status_code == 409
    assert upload(cast.designer, draft["id"], "sticker", "a.png", _png()).status_code == 422


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (640, 480), (200, 80, 40, 255)).save(out, "PNG")
    return out.getvalue()
