"""The pages people see: sign in, sign out, and a home page."""

import logging
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from .. import sessions
from ..users import authenticate

bp = Blueprint("pages", __name__)
audit = logging.getLogger("idp.audit")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1000)])


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token."""


def _safe_next(value):
    """A path on this server to return to after sign-in, or None (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value


def _asking_client(next_url):
    """The app whose authorization request is waiting behind the login page, if any."""
    if not next_url:
        return None
    query = parse_qs(urlsplit(next_url).query)
    client_id = (query.get("client_id") or [None])[0]
    return current_app.extensions["latchkey_clients"].get(client_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            sessions.sign_in(user)
            audit.info("sign-in: user=%s from=%s", user.username, request.remote_addr)
            # 303: the browser follows with a GET and never re-posts the password.
            return redirect(next_url or url_for("pages.home"), 303)
        audit.info("sign-in failed: username=%r from=%s", form.username.data, request.remote_addr)
        error = "Wrong username or password."
    elif form.is_submitted():
        error = "Enter your username and password."
    login_hint = request.args.get("login_hint") or _hint_from(next_url)
    if login_hint and not form.username.data:
        form.username.data = login_hint
    return render_template("login.html", form=form, error=error, next=next_url,
                           client=_asking_client(next_url))


def _hint_from(next_url):
    if not next_url:
        return None
    return (parse_qs(urlsplit(next_url).query).get("login_hint") or [None])[0]


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = ConfirmForm()
    if form.validate_on_submit():
        signed_in = sessions.current()
        if signed_in:
            audit.info("sign-out: user=%s", signed_in.user.username)
        sessions.end()
        return render_template("signed_out.html")
    return render_template("logout.html", form=form, signed_in=sessions.current())


@bp.route("/")
def home():
    signed_in = sessions.current()
    if signed_in is None:
        return redirect(url_for("pages.login"))
    return render_template("home.html", user=signed_in.user)
