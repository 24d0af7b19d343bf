"""Latchkey's endpoints and pages: one blueprint per module, all nested in the `latchkey` blueprint,
which an app mounts at its root (standalone) or under a prefix (embedded in a club's website)."""

import os

from flask import Blueprint

from .. import cors, db, errors
from . import (account, authenticator, authorize, branding, links, pages, passkeys, second_step, token, userinfo,
               wellknown)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

bp = Blueprint(
    "latchkey",
    __name__,
    # templates/latchkey/*.html: an app that embeds Latchkey overrides one by putting a file of the
    # same name in its own templates/latchkey/ folder (the app's folder is searched first).
    template_folder=os.path.join(ROOT, "templates"),
    static_folder=os.path.join(ROOT, "idp", "static"),
    static_url_path="/static",
)
for module in (wellknown, authorize, token, userinfo, pages, account, links, branding, second_step, authenticator,
               passkeys):
    bp.register_blueprint(module.bp)
errors.init_blueprint(bp)
cors.init_blueprint(bp)
bp.after_request(db.purge_when_due)
