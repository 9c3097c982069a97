"""Cross-origin requests from browsers, with refusals as problem+json.

Starlette's CORSMiddleware answers a refused preflight with a plain-text 400; this one answers
an RFC 9457 problem naming the refused request header, like every other error. A browser does
not show a refused preflight's body to the page, but a developer reading the network tab or
trying with curl does.
"""

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from patron.kit.responses import ProblemResponse

_FIELDS = {
    "origin": "Origin",
    "method": "Access-Control-Request-Method",
    "headers": "Access-Control-Request-Headers",
    "private-network": "Access-Control-Request-Private-Network",
}


class Cors(CORSMiddleware):
    def _message(self, failure: str, request: Headers) -> str:
        if failure == "origin":
            return (
                f"the origin {request.get('origin', '')!r} may not call this API from a "
                "browser: the server's PATRON_CORS_ORIGINS does not list it"
            )
        if failure == "method":
            allowed = ", ".join(self.allow_methods)
            return (
                f"{request.get('access-control-request-method', '')} may not be sent from a "
                f"browser; allowed: {allowed}"
            )
        if failure == "headers":
            allowed = ", ".join(sorted(self.allow_headers))
            return (
                f"a browser may send only these headers: {allowed}; it asked for "
                f"{request.get('access-control-request-headers', '')}"
            )
        return f"refused: {failure}"

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        failures = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        errors = [
            {"field": _FIELDS.get(f, f), "message": self._message(f, request_headers)}
            for f in failures
        ]
        body: dict[str, Any] = {
            "type": "https://patron.dev/problems/cors-preflight-refused",
            "title": "CORS preflight refused",
            "status": 400,
            "detail": "; ".join(e["message"] for e in errors),
            "errors": errors,
        }
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower().startswith("access-control-") or k.lower() == "vary"
        }
        return ProblemResponse(body, status_code=400, headers=kept)
