"""AssumeRoleWithWebIdentity: refused as AWS refuses it in an account without an OIDC provider.

AWS accepts a web identity token only from an OpenID Connect provider registered in the account
(IAM's CreateOpenIDConnectProvider), whose signing keys it fetches from the issuer to verify the token
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_oidc.html). Conveyor's IAM does not
serve OIDC providers, so no token can be verified: a token that is not a JWT is refused as such, and any
other with AWS's answer for an issuer the account does not know ("No OpenIDConnect provider found in
your account for ISSUER"). Accepting unverified tokens would make any role whose trust policy names a
provider assumable by anyone who can write a JWT by hand.
"""

from __future__ import annotations

import base64
import binascii
import json

from conveyor.services.sts import errors
from conveyor.wire import ServiceError

_NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"


def issuer(token: str) -> str:
    """The `iss` claim of a JWT (header.payload.signature, each base64url), unverified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise errors.invalid_identity_token(_NOT_A_JWT)
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise errors.invalid_identity_token(_NOT_A_JWT)
    found = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(found, str) or not found:
        raise errors.invalid_identity_token(_NOT_A_JWT)
    return found


def refuse(token: str) -> ServiceError:
    return errors.invalid_identity_token(f"No OpenIDConnect provider found in your account for {issuer(token)}")
