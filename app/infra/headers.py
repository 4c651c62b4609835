"""Security headers on every answer, added by the one after-request step in app/infra/observe.py.

- Everywhere: `X-Content-Type-Options: nosniff`, and `X-Frame-Options: DENY` beside CSP `frame-ancestors 'none'`
  (older browsers read only the former): no page of ours may be framed, so none can be clickjacked.
- API answers (JSON, CSV, SVG, photos): a policy that allows nothing, so a body opened as a document runs nothing.
- HTML pages (the consumer trace page, the Swagger docs): scripts and styles from our own origin, and each inline
  `<script>` or `<style>` block allowed by its SHA-256 hash, never by 'unsafe-inline'. The hashes come from the page
  as sent (cached per distinct block), so editing a template cannot leave a stale hash behind.
- Console pages (/console/...): stricter still, no inline block at all, and scripts and styles only from the
  console's own static folder (a path-restricted source, so nothing else on the origin can be loaded as a script).
- Token answers (login, refresh): `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 5.1 requires.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterator

from flask import Request, Response

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HTML_POLICY = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self'{styles}; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
CONSOLE_POLICY = (
    "default-src 'none'; script-src {static}; style-src {static}; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
CONSOLE_PREFIX = "/console"
# Blocks without attributes are inline code; one with src= loads a file from 'self'.
OPENING = re.compile(rb"<(script|style)>")
TOKEN_ENDPOINTS = frozenset({"auth.Login", "auth.Refresh"})
EVERYWHERE = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"))
# An API answer's headers, appended as they stand: every public lookup passes here.
API_HEADERS = (*EVERYWHERE, ("Content-Security-Policy", API_POLICY))


def secure_page(response: Response, *, path: str, request: Request) -> None:
    """The headers of an HTML page: framing and sniffing refused, and its policy (the console's, or one with a hash
    per inline block). The request's host URL is read for a console page only (werkzeug builds it anew each time:
    a twentieth of a trace page)."""
    headers = response.headers
    headers.extend(EVERYWHERE)
    if path.startswith(CONSOLE_PREFIX):
        headers["Content-Security-Policy"] = CONSOLE_POLICY.format(static=f"{request.host_url}console/static/")
    else:
        headers["Content-Security-Policy"] = html_policy(response)


def never_store(response: Response) -> None:
    """A token answer (login, refresh) must not be kept by any cache (RFC 6749 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def html_policy(response: Response) -> str:
    """The HTML policy with a hash for each inline block of this page (none for a streamed page)."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    if not response.is_streamed and not response.direct_passthrough:
        for tag, block in inline_blocks(response.get_data()):
            hashes[tag].append(_source(block))
    return HTML_POLICY.format(scripts="".join(hashes[b"script"]), styles="".join(hashes[b"style"]))


def inline_blocks(page: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Each inline block's tag and content: from an opening tag to the first closing tag of its kind after it.

    Found by bytes.find, not by one pattern with a lazy `(.*?)</\\1>`, which tried the closing tag at every byte of
    the blocks: 360,000 instructions for the consumer's trace page, about as much as the lookup's database read.
    """
    position = 0
    while (opening := OPENING.search(page, position)) is not None:
        tag = opening.group(1)
        closing = page.find(b"</" + tag + b">", opening.end())
        if closing == -1:  # never closed: not a block; look on from the next byte
            position = opening.start() + 1
            continue
        yield tag, page[opening.end() : closing]
        position = closing + len(tag) + 3


@functools.lru_cache(maxsize=64)
def _source(block: bytes) -> str:
    return " 'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"
