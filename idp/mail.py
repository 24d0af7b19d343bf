"""Mail, when the admin configured a server (SMTP_* settings): invitation and recovery links.
Plain smtplib; STARTTLS or implicit TLS with certificate checks, unless SMTP_SECURITY = "none"
(only sensible for a server on this machine)."""

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from . import audit

log = logging.getLogger(__name__)

#: Seconds to wait for the mail server.
TIMEOUT = 20


class MailError(Exception):
    """The mail could not be handed to the server; the message says why (never a secret)."""


def configured(config):
    return bool(config["SMTP_HOST"])


def _message(config, to, subject, body):
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config["SMTP_FROM"].rsplit("@", 1)[-1].strip("> "))
    message.set_content(body)
    return message


def send(config, to, subject, body):
    """Hand one message to the configured server; raise MailError when that fails."""
    context = ssl.create_default_context()
    try:
        if config["SMTP_SECURITY"] == "tls":
            server = smtplib.SMTP_SSL(config["SMTP_HOST"], config["SMTP_PORT"], timeout=TIMEOUT, context=context)
        else:
            server = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=TIMEOUT)
        with server:
            if config["SMTP_SECURITY"] == "starttls":
                server.starttls(context=context)
            if config["SMTP_USER"]:
                server.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            server.send_message(_message(config, to, subject, body))
    except (OSError, smtplib.SMTPException, ValueError) as e:  # ValueError: a header email refuses
        raise MailError(f"could not send mail through {config['SMTP_HOST']}:{config['SMTP_PORT']}: {e}") from None


def link_mail(config, kind, user, url, expires_in):
    """(subject, body) of a mail carrying a one-time link."""
    site, name = config.get("SITE_NAME", "Latchkey"), user.name or user.username
    hours = max(1, round(expires_in / 3600))
    lasts = f"{hours} hour{'s' if hours != 1 else ''}" if hours < 48 else f"{round(hours / 24)} days"
    if kind == "join":
        return (f"You are invited to {site}",
                f"Hello {name},\n\nyou are invited to sign in at {site} as \"{user.username}\".\n"
                f"Open this link to choose your password (it works once, for {lasts}):\n\n{url}\n\n"
                "If you did not expect this, you can ignore this mail.\n")
    return (f"Set a new password for {site}",
            f"Hello {name},\n\nsomeone (hopefully you) asked to set a new password for \"{user.username}\" "
            f"at {site}.\nOpen this link to choose it (it works once, for {lasts}):\n\n{url}\n\n"
            "If it was not you, ignore this mail: your password stays as it is.\n")


def send_link(config, kind, user, url, expires_in):
    """Mail a one-time link to the person's address; the audit log records it (not the link)."""
    subject, body = link_mail(config, kind, user, url, expires_in)
    send(config, user.email, subject, body)
    audit.event("link_mailed", kind=kind, user=user.username)


def in_background(work):
    """Run `work()` after the answer, in a thread of its own with the app's context: a page whose
    answer must take as long whether or not there is anyone to mail ("Forgot your password?")
    does only the same work in every case itself."""
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            try:
                work()
            except MailError as e:
                log.error("%s", e)
                audit.event("link_mail_failed")
            except Exception:  # a background thread has nobody else to tell
                log.exception("sending mail failed")

    threading.Thread(target=run, daemon=True).start()

