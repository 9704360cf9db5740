"""A badge as SVG in shields.io's "flat" style (``/badge/<id>.svg``), no dependency.

Written from the layout shields' badge-maker documents for its flat renderer: 20 px
high, each text padded 5 px left and right, text widths rounded up to an odd number
of pixels, the label on #555, corners of 3 px radius, a faint grey gradient, text
drawn at font-size 110 under ``scale(.1)`` with a shadow one pixel lower at 30 %
opacity, white text on dark backgrounds and #333 on light ones.

Text widths: shields measures with a table of Verdana at 11 px. Verdana is not on
Debian, where the SVG's font list falls back to DejaVu Sans, so the table below is
DejaVu Sans' advance widths at 11 px (from DejaVuSans.ttf's hmtx table, printable
ASCII). ``textLength`` makes any viewer's font fill exactly the computed box, so
the badge is well formed whichever font draws it; a few percent wider than
shields' own at most. Characters outside the table count as an average one.
"""

from __future__ import annotations

from html import escape

# Advance width in px at 11 px of each character from " " (32) to "~" (126).
_WIDTHS = (
    3.50, 4.41, 5.06, 9.22, 7.00, 10.45, 8.58, 3.02, 4.29, 4.29, 5.50, 9.22, 3.50,
    3.97, 3.50, 3.71, 7.00, 7.00, 7.00, 7.00, 7.00, 7.00, 7.00, 7.00, 7.00, 7.00,
    3.71, 3.71, 9.22, 9.22, 9.22, 5.84, 11.00, 7.52, 7.55, 7.68, 8.47, 6.95, 6.33,
    8.52, 8.27, 3.24, 3.24, 7.21, 6.13, 9.49, 8.23, 8.66, 6.63, 8.66, 7.64, 6.98,
    6.72, 8.05, 7.52, 10.88, 7.54, 6.72, 7.54, 4.29, 3.71, 4.29, 9.22, 5.50, 5.50,
    6.74, 6.98, 6.05, 6.98, 6.77, 3.87, 6.98, 6.97, 3.06, 3.06, 6.37, 3.06, 10.72,
    6.97, 6.73, 6.98, 6.98, 4.52, 5.73, 4.31, 6.97, 6.51, 9.00, 6.51, 6.51, 5.77,
    7.00, 3.71, 7.00, 9.22,
)  # fmt: skip
_MEAN = sum(_WIDTHS) / len(_WIDTHS)
# shields' named colours.
COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
    "grey": "#555",
}
LABEL_COLOR = "#555"
HEIGHT = 20
PADDING = 5
FONT = "Verdana,Geneva,DejaVu Sans,sans-serif"


def text_width(text: str) -> int:
    """Pixels ``text`` takes at 11 px, rounded up to an odd number (shields: then
    the text's centre falls on a pixel)."""
    width = int(sum(_WIDTHS[ord(c) - 32] if " " <= c <= "~" else _MEAN for c in text))
    return width if width % 2 else width + 1


def _luma(color: str) -> float:
    hexa = color.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    red, green, blue = (int(hexa[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _text(centre: float, content: str, width: int, background: str) -> str:
    """A text and its shadow, centred at ``centre`` px, in the scaled frame."""
    fill, shadow = ("#fff", "#010101") if _luma(background) <= 0.69 else ("#333", "#ccc")
    x, length, text = round(centre * 10), width * 10, escape(content)
    return (
        f'<text aria-hidden="true" x="{x}" y="150" fill="{shadow}" fill-opacity=".3"'
        f' transform="scale(.1)" textLength="{length}">{text}</text>'
        f'<text x="{x}" y="140" transform="scale(.1)" fill="{fill}"'
        f' textLength="{length}">{text}</text>'
    )


def flat(label: str, message: str, color: str = "brightgreen") -> str:
    """The badge "label | message" with the message on ``color`` (a shields name
    or ``#rgb``/``#rrggbb``); no label box when ``label`` is empty."""
    color = COLORS.get(color, color)
    label_width, message_width = text_width(label), text_width(message)
    left = label_width + 2 * PADDING if label else 0
    right = message_width + 2 * PADDING
    width = left + right
    title = escape(f"{label}: {message}" if label else message)
    label_text = (
        _text(1 + PADDING + label_width / 2, label, label_width, LABEL_COLOR)
        if label
        else ""
    )
    message_text = _text(
        left - 1 + PADDING + message_width / 2, message, message_width, color
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}"'
        f' role="img" aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="{HEIGHT}" rx="3"'
        ' fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="{HEIGHT}"'
        f' fill="{LABEL_COLOR}"/><rect x="{left}" width="{right}" height="{HEIGHT}"'
        f' fill="{color}"/><rect width="{width}" height="{HEIGHT}" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="{FONT}"'
        ' text-rendering="geometricPrecision" font-size="110">'
        f"{label_text}{message_text}</g></svg>"
    )
