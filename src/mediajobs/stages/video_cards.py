"""Pictures of a video, drawn with Pillow: a scene's card (its title and wrapped text), a user's image
fitted to the frame, and the thumbnail.

Light text (#F5F5F5) on a dark blue-grey (#121826): a contrast ratio of about 17:1, far above the 4.5:1
WCAG asks of body text. The font is DejaVu Sans from Debian's fonts-dejavu-core (scripts/bootstrap
installs it). The bottom fifth of a card stays empty: the burned-in subtitles go there.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from mediajobs.errors import PermanentError

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"
BACKGROUND = (18, 24, 38)
FOREGROUND = (245, 245, 245)
ACCENT = (255, 196, 61)
MAX_IMAGE_PIXELS = 40_000_000  # a user's image larger than this (about 7700 x 5200) is refused
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})
SUBTITLE_BAND = 0.2  # the share of the frame's height left free at the bottom for subtitles


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.exists():
        raise PermanentError(
            f"the font {path} is missing: install Debian's fonts-dejavu-core (scripts/bootstrap does)",
            code="engine_unavailable",
        )
    return ImageFont.truetype(str(path), size)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`text` in lines no wider than `width` pixels (a word longer than a line gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and face.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _fit(
    text: str, name: str, size: int, width: int, height: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size (down to a third of `size`) at which `text` wraps into the box."""
    smallest = max(10, size // 3)
    while True:
        face = font(name, size)
        lines = wrap(text, face, width)
        if size <= smallest or len(lines) * round(size * 1.3) <= height:
            return face, lines
        size = max(smallest, int(size * 0.9))


def draw_card(title: str | None, text: str, frame: tuple[int, int]) -> Image.Image:
    """A scene's card: the title in bold over a rule, the text wrapped below, above the subtitle band."""
    width, height = frame
    card = Image.new("RGB", frame, BACKGROUND)
    draw = ImageDraw.Draw(card)
    short = min(width, height)
    margin = short // 12
    top = margin
    usable = width - 2 * margin
    bottom = int(height * (1 - SUBTITLE_BAND))
    if title:
        face, lines = _fit(title, BOLD, short // 11, usable, (bottom - top) // 3)
        for line in lines:
            draw.text((margin, top), line, font=face, fill=FOREGROUND)
            top += round(face.size * 1.3)
        top += short // 60
        draw.rectangle((margin, top, margin + usable // 4, top + max(3, short // 120)), fill=ACCENT)
        top += short // 20
    face, lines = _fit(text, REGULAR, short // 16, usable, bottom - top)
    for line in lines:
        if top + face.size > bottom:
            break  # what does not fit is still spoken and subtitled
        draw.text((margin, top), line, font=face, fill=FOREGROUND)
        top += round(face.size * 1.3)
    return card


def open_image(path: Path, what: str) -> Image.Image:
    """A user's image, decoded (PNG, JPEG or WebP, at most MAX_IMAGE_PIXELS); PermanentError otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format not in IMAGE_FORMATS:
                    found = image.format or "not an image"
                    raise PermanentError(
                        f"{what} is {found}, not PNG, JPEG or WebP", code="unsupported_image"
                    )
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise PermanentError(
                        f"{what} is {image.width}x{image.height}: over {MAX_IMAGE_PIXELS} pixels",
                        code="unsupported_image",
                    )
                image.load()
                return ImageOps.exif_transpose(image).convert("RGB")
    except PermanentError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(f"{what} cannot be read as an image: {exc}", code="unsupported_image") from None


def fit_image(image: Image.Image, frame: tuple[int, int]) -> Image.Image:
    """`image` scaled to fit the frame, keeping its shape, padded with the background colour."""
    return ImageOps.pad(image, frame, method=Image.Resampling.LANCZOS, color=BACKGROUND)


def draw_thumbnail(
    picture: Image.Image, title: str | None, size: tuple[int, int] = (1280, 720)
) -> Image.Image:
    """The first scene's picture fitted to 1280x720, with the title on a dark band at the bottom."""
    thumb = fit_image(picture.convert("RGB"), size)
    if not title:
        return thumb
    width, height = size
    margin = height // 20
    face, lines = _fit(title, BOLD, height // 9, width - 2 * margin, height // 3)
    line_height = round(face.size * 1.25)
    band = len(lines) * line_height + 2 * margin
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rectangle((0, height - band, width, height), fill=(*BACKGROUND, 225))
    thumb = Image.alpha_composite(thumb.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(thumb)
    top = height - band + margin
    for line in lines:
        draw.text((margin, top), line, font=face, fill=FOREGROUND)
        top += line_height
    return thumb


__all__ = ["draw_card", "draw_thumbnail", "fit_image", "open_image", "wrap"]
