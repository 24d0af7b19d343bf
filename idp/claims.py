"""Which claims each scope releases (the contract's table, OIDC Core §5.4), in one place."""

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

#: scope -> the claims it releases. `sub` is always released.
SCOPE_CLAIMS = {
    "openid": ("sub",),
    "profile": (
        "name", "given_name", "family_name", "nickname", "preferred_username",
        "locale", "picture", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "groups": ("groups",),
}

CLAIMS_SUPPORTED = sorted({c for claims in SCOPE_CLAIMS.values() for c in claims})


def all_claims(user, default_locale):
    """Every claim Latchkey knows about `user`; absent values are left out."""
    claims = {
        "sub": user.username,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "nickname": user.username,
        "preferred_username": user.username,
        "locale": user.locale or default_locale,
        "picture": user.picture,
        "updated_at": user.updated_at,
        "email": user.email,
        # The admin enters addresses by hand; Latchkey does not send verification mail.
        "email_verified": True,
        "groups": list(user.groups),
    }
    return {k: v for k, v in claims.items() if v is not None}


def user_info(user, scope, default_locale):
    """The claims released by `scope`, always with `sub`."""
    released = {"sub"}
    for s in scope_to_list(scope or ""):
        released.update(SCOPE_CLAIMS.get(s, ()))
    claims = all_claims(user, default_locale)
    return UserInfo({k: v for k, v in claims.items() if k in released})
