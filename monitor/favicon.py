"""The product's icon: a small SVG, inlined in every page (dashboard and HTML reports).

Inlined as a data URI, so a page view never asks the server for /favicon.ico; the
API still answers that path for browsers that ask anyway (e.g. on a JSON page).
"""

from __future__ import annotations

from urllib.parse import quote

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#b8281d"/>'
    '<rect x="7" y="8" width="18" height="3" fill="#fde9c4"/>'
    '<rect x="7" y="15" width="12" height="3" fill="#fde9c4"/>'
    '<rect x="7" y="22" width="6" height="3" fill="#e0b040"/>'
    "</svg>"
)
DATA_URI = "data:image/svg+xml," + quote(SVG)
