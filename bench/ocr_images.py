"""Generated images of letters that name a caseworker, for the OCR figures (bench/score_assess.py).

`make_image(rnd, name)` draws a short Danish letter or decision naming `name` in one of several
fonts and sizes, with speckle noise, a grey or tinted background and a slight rotation, and
returns the PNG bytes and the text drawn.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Italic.ttf",
]
LINES = [
    ["Afgørelse om tilskud", "Kære borger", "Din ansøgning er behandlet af", "sagsbehandler {name}.",
     "Med venlig hilsen", "Familieafdelingen"],
    ["Vedr. din sag nr. 2024-118", "Vi har modtaget din klage.", "Kontaktperson: {name}",
     "Telefon: se kommunens hjemmeside"],
    ["Referat af møde", "Til stede: {name} (fagchef)", "og borgeren.", "Næste møde aftales senere."],
    ["Kommunen", "Brev fra {name}", "Du har ret til at klage over afgørelsen", "inden fire uger."],
]


def make_image(rnd: random.Random, name: str) -> tuple[bytes, str]:
    fonts = [f for f in FONTS if Path(f).is_file()] or [None]
    font_path = rnd.choice(fonts)
    size = rnd.choice([20, 24, 28, 34])
    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default()
    lines = [line.format(name=name) for line in rnd.choice(LINES)]
    width = max(600, int(max(len(line) for line in lines) * size * 0.62) + 80)
    height = int(len(lines) * size * 1.6) + 80
    shade = rnd.randint(215, 255)
    tint = (shade, shade - rnd.randint(0, 12), shade - rnd.randint(0, 25))
    image = Image.new("RGB", (width, height), tint)
    draw = ImageDraw.Draw(image)
    ink = rnd.randint(0, 70)
    y = 40
    for line in lines:
        draw.text((40 + rnd.randint(-4, 4), y), line, fill=(ink, ink, ink), font=font)
        y += int(size * 1.6)
    for _ in range(width * height // 300):  # speckle noise
        x, yy = rnd.randrange(width), rnd.randrange(height)
        v = rnd.randint(90, 200)
        draw.point((x, yy), fill=(v, v, v))
    image = image.rotate(rnd.uniform(-2.0, 2.0), expand=True, fillcolor=tint)
    if rnd.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), "\n".join(lines)
