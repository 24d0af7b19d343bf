"""The HTML forms. Each carries a CSRF token (Flask-WTF) that lives as long as the session."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length


class Form(FlaskForm):
    class Meta:
        csrf_time_limit = None  # the token lives as long as the session

    def csrf_failed(self):
        """True when the form was posted with a missing, stale or forged CSRF token."""
        if not self.is_submitted():
            return False
        if not self.errors:  # not validated yet
            self.validate()
        return bool(self.csrf_token.errors)


class LoginForm(Form):
    username = StringField("Username", validators=[InputRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1000)])


class ConfirmForm(Form):
    """A form with nothing but its CSRF token."""


class PasswordForm(Form):
    current = PasswordField("Current password", validators=[InputRequired()])
    new = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=1000)])
    confirm = PasswordField("New password again", validators=[EqualTo("new", "The new passwords do not match.")])


class RevokeForm(Form):
    client_id = HiddenField(validators=[InputRequired()])


class EndSessionForm(Form):
    """Ending one of the person's sessions on the account page, named by its handle."""

    handle = HiddenField(validators=[InputRequired(), Length(max=64)])


class NewPasswordForm(Form):
    """Choosing a password on a join or recovery link (the rules: password_rules.py)."""

    new = PasswordField("New password", validators=[InputRequired(), Length(max=1000)])
    confirm = PasswordField("New password again", validators=[EqualTo("new", "The passwords do not match.")])


class ForgotForm(Form):
    who = StringField("Username or email", validators=[InputRequired(), Length(max=254)])


class CodeForm(Form):
    """A code from an authenticator app (6 digits) or a recovery code (xxxxx-xxxxx)."""

    code = StringField("Code", validators=[InputRequired(), Length(max=40)])


class AuthenticatorForm(Form):
    """Confirming a new authenticator app with the password and the app's first code."""

    password = PasswordField("Your password", validators=[InputRequired(), Length(max=1000)])
    code = StringField("Code from the app", validators=[InputRequired(), Length(max=40)])


class TurnOffForm(Form):
    """Turning the second step off needs the password and a code."""

    password = PasswordField("Your password", validators=[InputRequired(), Length(max=1000)])
    code = StringField("A code from the app, or a recovery code", validators=[InputRequired(), Length(max=40)])


class PasskeyForm(Form):
    """A passkey made or used in the browser (passkeys.js puts the credential, as JSON, in
    `credential`); `name` when adding one, `next` where to go on."""

    credential = HiddenField(validators=[Length(max=20000)])
    name = StringField("Name", validators=[Length(max=200)])
    next = HiddenField(validators=[Length(max=4000)])


class RenamePasskeyForm(Form):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])


class RemovePasswordForm(Form):
    """Signing in with passkeys only: the current password confirms it."""

    password = PasswordField("Your password", validators=[InputRequired(), Length(max=1000)])
