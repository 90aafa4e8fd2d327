"""Requests to the local cloud's WSGI app as boto3 sends them, for tests of the layers in front of moto."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def signed(
    service: str,
    method: str,
    path: str = "/",
    *,
    agent: str = "Boto3/1.35 drillkit",
    body: bytes | None = None,
    form: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The WSGI environ of a request signed for ``service`` (the lab reads the service from the credential scope).

    ``form``: a query-protocol body (EC2, ELB, RDS, SNS), sent as a form; ``body``: any other body.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_USER_AGENT": agent,
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0"
        ),
    }
    if form is not None:
        body = urlencode(form).encode()
        environ["CONTENT_TYPE"] = FORM_TYPE
    if body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
    return {**environ, **extra}
