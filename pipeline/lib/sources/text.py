"""The one cleaner for text that comes from a photo source (API fields, photos.json, file names).

It runs at the source boundary, so the database and the site never see raw text: NFC, no lone
surrogates (unencodable, they break the database driver), no NUL (PostgreSQL text refuses it),
no C0/C1 controls, line breaks and other whitespace runs as one space (no header-like
"\\r\\nSet-Cookie:" lines), no bidi controls (a U+202E could reverse the text around a name),
and a length cap.
"""

from __future__ import annotations

import re
import unicodedata

# Embeddings, overrides, isolates and the directional marks: a name must not steer the page.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROPPED = re.compile(
    "[\ud800-\udfff"  # lone surrogates (a valid pair never appears in a decoded str)
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"  # C0/C1 controls other than whitespace
    f"{BIDI_CONTROLS}\ufeff]"
)
# Tab, LF, VT, FF, CR, NEL, line and paragraph separators, and every other Unicode space.
_SPACES = re.compile(r"[\s\x85\u2028\u2029]+")


def clean_text(value: object, limit: int) -> str | None:
    """`value` made safe to store and show, cut to `limit` characters; None when it is not a
    string or nothing is left."""
    if not isinstance(value, str):
        return None
    text = _DROPPED.sub("", value)
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:limit].rstrip() or None
