"""Latchkey's endpoints and pages: one blueprint per module, all nested in the `latchkey` blueprint,
which an app mounts at its root (standalone) or under a prefix (embedded in a club's website)."""

import os

from flask import Blueprint

from .. import backchannel_logout, cors, db, errors
from . import (account, authenticator, authorize, branding, device, links, pages, passkeys, second_step, token,
               userinfo, wellknown)

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
               passkeys, device):
    bp.register_blueprint(module.bp)
errors.init_blueprint(bp)
cors.init_blueprint(bp)
bp.after_request(db.purge_when_due)
# Back-channel logout notices go from a thread of each worker: started with the app, woken after a
# response that queued one (backchannel_logout.py).
bp.record_once(backchannel_logout.on_register)
bp.after_request(backchannel_logout.after_request)
