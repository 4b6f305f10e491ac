"""Pictures for the demo designs, drawn by code with Pillow: a flat sketch of each piece in a courtyard."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from vardekedja.media import MediaStore, StoredPicture

SIZE = (1200, 900)
SKY, GRASS, PATH = (214, 232, 226), (120, 170, 110), (196, 186, 168)
WOOD, STEEL, CONCRETE, GREEN = (163, 112, 62), (70, 78, 86), (170, 170, 165), (86, 140, 72)


def _scene() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", SIZE, SKY)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 620, 1200, 900), fill=GRASS)
    draw.polygon([(420, 900), (560, 620), (700, 620), (900, 900)], fill=PATH)
    for x in (90, 1060):  # two trees
        draw.rectangle((x - 12, 420, x + 12, 640), fill=(110, 80, 50))
        draw.ellipse((x - 90, 250, x + 90, 470), fill=GREEN)
    return image, draw


def _bench(draw: ImageDraw.ImageDraw) -> None:
    for x in (330, 850):
        draw.rectangle((x, 560, x + 20, 700), fill=STEEL)
    for y in (540, 500, 460):
        draw.rounded_rectangle((300, y - 30 if y == 540 else y - 60, 900, y - 6 if y == 540 else y - 40), 6, fill=WOOD)
    draw.rectangle((300, 545, 900, 575), fill=WOOD)


def _planter(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle((360, 470, 840, 700), fill=WOOD)
    for x in range(360, 840, 60):
        draw.line((x, 470, x, 700), fill=(130, 88, 48), width=4)
    for x in range(400, 820, 70):
        draw.ellipse((x - 30, 400, x + 30, 480), fill=GREEN)


def _shelter(draw: ImageDraw.ImageDraw) -> None:
    for x in (260, 940):
        draw.rectangle((x, 330, x + 18, 700), fill=STEEL)
    draw.polygon([(220, 330), (1000, 300), (1000, 340), (220, 360)], fill=GREEN)
    for x in range(320, 900, 75):
        draw.ellipse((x, 600, x + 60, 660), outline=STEEL, width=6)
        draw.ellipse((x + 40, 600, x + 100, 660), outline=STEEL, width=6)


def _table(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle((260, 470, 940, 510), fill=CONCRETE)
    for x in (320, 840):
        draw.rectangle((x, 510, x + 40, 700), fill=CONCRETE)
    draw.rectangle((220, 590, 980, 615), fill=CONCRETE)


DRAWINGS = {"bench": _bench, "planter": _planter, "bike shelter": _shelter, "table": _table, "pergola": _shelter}


def draw_picture(category: str) -> bytes:
    """A PNG of a piece of the category (a bench for one we have no drawing for)."""
    image, draw = _scene()
    DRAWINGS.get(category, _bench)(draw)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def store_demo_picture(store: MediaStore, category: str) -> StoredPicture:
    """Draw, then store as any upload is stored (re-encoded in every size)."""
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as drawn:
        drawn.write(draw_picture(category))
    try:
        return store.picture(Path(drawn.name))
    finally:
        Path(drawn.name).unlink(missing_ok=True)
