"""The designer's studio: drafting from a form, pictures, publishing, and what another designer cannot see."""

from __future__ import annotations

import io
import re
from uuid import UUID

from fastapi.testclient import TestClient
from PIL import Image

from tests.api.support import Cast, design_body, ok
from tests.web.conftest import caught_up
from tests.web.test_media import attached_events
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime

FORM = {
    "title": "Parkbänk Fittja", "description": "Bänk i ek", "category": "bench", "materials": "oak, steel",
    "required_capabilities": "carpentry, welding", "licence": "CC-BY-SA-4.0", "width_mm": "1800", "depth_mm": "620",
    "height_mm": "820", "weight_kg": "48,5", "lead_time_days": "21", "co2e_kg": "41,5", "royalty": "250",
    "production_fee": "6400,50", "installation_fee": "900",
}  # fmt: skip


def _token(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', client.get(path).text)
    assert found is not None, path
    return found.group(1)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 110, 60)).save(out, "PNG")
    return out.getvalue()


def test_a_designer_drafts_from_the_form_with_prices_in_kronor(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    sign_in(client, cast.designer)
    token = _token(client, "/studio/designs/new")
    drafted = client.post("/studio/designs", data={"csrftoken": token, **FORM}, follow_redirects=False)
    assert drafted.status_code == 303
    design_id = UUID(drafted.headers["location"].rsplit("/", 1)[1])
    spec = runtime.marketplace.design(design_id).revisions[1]
    assert (spec.royalty_ore, spec.production_fee_ore, spec.installation_fee_ore) == (250_00, 6_400_50, 900_00)
    assert spec.materials == ("oak", "steel") and spec.weight_kg == 48.5
    page = client.get(drafted.headers["location"]).text
    assert "Parkbänk Fittja" in page and "Publicera revision 1" in page
    assert "Parkbänk Fittja" in client.get("/studio").text


def test_what_is_wrong_in_the_form_is_shown_beside_it_and_nothing_is_drafted(client: TestClient, runtime: Runtime,
                                                                              cast: Cast) -> None:  # fmt: skip
    sign_in(client, cast.designer)
    token = _token(client, "/studio/designs/new")
    before = runtime.marketplace.position
    refused = client.post("/studio/designs", data={"csrftoken": token, **FORM, "width_mm": "bred", "royalty": "x",
                                                   "title": ""})  # fmt: skip
    assert refused.status_code == 422
    for field in ("width_mm", "royalty", "title"):
        assert f'id="{field}-error"' in refused.text, field
    assert 'value="Bänk i ek"' in refused.text or "Bänk i ek</textarea>" in refused.text  # what was typed stays
    assert runtime.marketplace.position == before


def test_a_picture_uploaded_in_the_studio_shows_once_published(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    sign_in(client, cast.designer)
    draft = ok(cast.designer.post("/v1/designs", json=design_body(title="Odlingslåda Alby")), 201)
    caught_up(runtime)
    path = f"/studio/designs/{draft['id']}"
    token = _token(client, path)
    uploaded = client.post(f"{path}/media", data={"csrftoken": token, "kind": "picture"},
                           files={"file": ("låda.png", _png(), "image/png")})  # fmt: skip
    assert uploaded.status_code == 200 and "låda.webp" in uploaded.text and "?size=thumb" in uploaded.text
    published = client.post(f"{path}/publish", data={"csrftoken": token})
    assert published.status_code == 200 and "revision 1 finns i katalogen" in published.text
    catalogue = client.get("/catalogue").text
    assert "Odlingslåda Alby" in catalogue and f"/v1/designs/{draft['id']}/media/" in catalogue
    retired = client.post(f"{path}/retire", data={"csrftoken": token})
    assert "status-retired" in retired.text


def test_a_lying_upload_in_the_studio_is_refused_with_a_page_that_says_why(client: TestClient, runtime: Runtime,
                                                                           cast: Cast) -> None:  # fmt: skip
    sign_in(client, cast.designer)
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    caught_up(runtime)
    path = f"/studio/designs/{draft['id']}"
    token = _token(client, path)
    refused = client.post(f"{path}/media", data={"csrftoken": token, "kind": "production_file"},
                          files={"file": ("ritning.pdf", b"<html><script>alert(1)</script>", "application/pdf")})
    assert refused.status_code == 422 and "Filen kunde inte tas emot" in refused.text
    assert "<script>alert(1)" not in refused.text


def test_another_designers_design_is_not_found_in_the_studio(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    draft = ok(cast.other_designer.post("/v1/designs", json=design_body(title="Hemlig")), 201)
    caught_up(runtime)
    sign_in(client, cast.designer)
    assert client.get(f"/studio/designs/{draft['id']}").status_code == 404
    assert "Hemlig" not in client.get("/studio").text
    token = _token(client, "/studio/designs/new")
    assert client.post(f"/studio/designs/{draft['id']}/publish", data={"csrftoken": token}).status_code in (404, 422)


def test_an_upload_without_the_forms_token_is_refused_and_nothing_kept(client: TestClient, runtime: Runtime,
                                                                       cast: Cast) -> None:  # fmt: skip
    sign_in(client, cast.designer)
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)
    caught_up(runtime)
    path = f"/studio/designs/{draft['id']}"
    client.get(path)
    for token in (None, "forged"):
        data = {"kind": "picture"} if token is None else {"csrftoken": token, "kind": "picture"}
        refused = client.post(f"{path}/media", data=data, files={"file": ("a.png", _png(), "image/png")})
        assert refused.status_code == 403
    assert attached_events(runtime, draft["id"]) == []
    assert not any((runtime.settings.data_dir / "media").glob("??/*"))
