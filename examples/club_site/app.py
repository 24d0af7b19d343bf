"""The Riverside Rowing Club's website, an ordinary Flask app, with Latchkey mounted at /id.

    cd examples/club_site && flask run     # the club site at /, Latchkey at /id

Latchkey's pages use the club's look: templates/latchkey/base.html here overrides Latchkey's own.
Members are added as usual, from this folder: `flask user add NAME --email E`.
"""

import os

from flask import Flask, render_template

from idp import Latchkey, sessions

HERE = os.path.dirname(os.path.abspath(__file__))


def create_site(latchkey_settings=None):
    site = Flask(__name__)
    defaults = {
        "ISSUER": "http://localhost:5000/id",  # Latchkey's issuer includes the prefix
        "INSTANCE_PATH": os.path.join(HERE, "instance"),
        "CLIENTS_FILE": os.path.join(HERE, "clients.toml"),
    }
    # IDP_* environment variables still win over these defaults, as everywhere in Latchkey.
    settings = {k: v for k, v in defaults.items() if f"IDP_{k}" not in os.environ}
    settings.update(latchkey_settings or {})
    Latchkey(site, url_prefix="/id", settings=settings)

    @site.route("/")
    def index():
        """The club's own home page; it can ask who is signed in at Latchkey."""
        return render_template("index.html", signed_in=sessions.current())

    return site


app = create_site()
