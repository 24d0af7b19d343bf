"""Signing in, as a sequence of steps (after django-allauth's stages): a first step proves who the
person is (the password), then, when they have set up a second factor, a second step (an
authenticator-app code or a recovery code, `second_step` in views); then the session starts. A
passkey (possession, and the person verified by the authenticator) is the whole sequence alone.
Each method is one module here (totp.py, recovery_codes.py, passkeys.py); steps.py walks the sequence and
decides when a signed-in session must be stepped up for an app (require_mfa, REQUIRE_MFA)."""
