"""Security headers on every response the app sends.

The Content-Security-Policy allows scripts from this site only: no inline script, no eval, no
CDN (the pages' scripts are files under /static, plotly.js is served from the installed
package, Swagger UI's assets from `fastapi_offline`'s). Inline *styles* are allowed because
plotly.js and Swagger UI set them; images may be data: URLs (their icons). No site may frame
the app (clickjacking), the browser may not guess content types, and a link followed off the
site carries no Referer.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_RAW = [(k.encode(), v.encode()) for k, v in HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware adding `HEADERS` to each HTTP response (a handler's own value wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in _RAW if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)
