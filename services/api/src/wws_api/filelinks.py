"""Short-lived signed URLs for one file download or upload (seed 004's upload tokens): a
client that cannot send the user's credentials (a browser download, ``curl -T``, another
service) gets a URL that does one thing to one path until it expires. The URL is a JWS
signed with the gateway key (EdDSA), audience ``wws-file-link``; nothing is stored."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Literal

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError

from wws_api.gatewaykeys import GatewaySigner
from wws_events.gateway import ALGORITHM, ISSUER

AUDIENCE = "wws-file-link"
Method = Literal["GET", "PUT"]


class FileLinkClaims(msgspec.Struct, frozen=True, kw_only=True):
    iss: str
    aud: str
    sub: str
    ws: uuid.UUID
    path: str
    method: Method
    exp: int
    jti: str


class InvalidLink(Exception):
    pass


def mint(
    signer: GatewaySigner, *, user_id: str, workspace_id: uuid.UUID, path: str, method: Method, ttl_s: int
) -> tuple[str, int]:
    exp = int(time.time()) + ttl_s
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "ws": str(workspace_id),
        "path": path,
        "method": method,
        "exp": exp,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode({"alg": ALGORITHM, "kid": signer.key.kid}, claims, signer.key, algorithms=[ALGORITHM]), exp


def check(signer: GatewaySigner, token: str) -> FileLinkClaims:
    try:
        decoded = jwt.decode(token, signer.key, algorithms=[ALGORITHM])
        claims = msgspec.convert(decoded.claims, FileLinkClaims)
    except (JoseError, ValueError, msgspec.ValidationError) as exc:
        raise InvalidLink("invalid file link") from exc
    if claims.iss != ISSUER or claims.aud != AUDIENCE:
        raise InvalidLink("invalid file link")
    if claims.exp < time.time():
        raise InvalidLink("the file link has expired")
    return claims
