"""A software passkey for the tests: a real P-256 key (`cryptography`) signing real authenticator
data (WebAuthn §6.1, "none" attestation, CBOR with `cbor2`), checked by the webauthn package
unmocked; and the browser's side of the ceremonies as passkeys.js does them (options fetched with
the page's CSRF token in a header, the answer posted in a form)."""

import base64
import hashlib
import json
import os

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import csrf_token

ORIGIN = "http://localhost"  # the test issuer's origin (helpers.ISSUER)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Authenticator:
    """One passkey on a software authenticator: a P-256 key, a credential id, a signature counter."""

    UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40

    def __init__(self, synced=False, verifies=True, counter=0):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.synced, self.verifies, self.counter = synced, verifies, counter
        self.user_handle = None

    def _flags(self, extra=0):
        flags = self.UP | extra
        flags |= self.UV if self.verifies else 0
        flags |= (self.BE | self.BS) if self.synced else 0
        return bytes([flags])

    def _client_data(self, kind, challenge, origin):
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def _cose_key(self):
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def create(self, options, origin=ORIGIN, rp_id=None):
        """navigator.credentials.create(): the registration response as the browser's JSON."""
        rp_id = rp_id or options["rp"]["id"]
        self.user_handle = options["user"]["id"]
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + self._flags(self.AT) + self.counter.to_bytes(4, "big")
                     + bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                           "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                                        "transports": ["internal"]},
                           "authenticatorAttachment": "platform", "clientExtensionResults": {}})

    def get(self, options, origin=ORIGIN, rp_id=None):
        """navigator.credentials.get(): a signed assertion as the browser's JSON. A counter that
        started at 0 stays 0 (an authenticator without one, as synced passkeys are)."""
        rp_id = rp_id or options["rpId"]
        self.counter += 1 if self.counter else 0
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + self._flags() + self.counter.to_bytes(4, "big")
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                           "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                                        "signature": b64url(signature), "userHandle": self.user_handle},
                           "authenticatorAttachment": "platform", "clientExtensionResults": {}})


def options(client, path, page="/account"):
    """The ceremony's options, fetched as passkeys.js does (the page's CSRF token in a header)."""
    token = csrf_token(client.get(page).text)
    response = client.post(path, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.text
    return response.json, token


def add_passkey(client, device, name="My phone", **where):
    opts, token = options(client, "/account/passkeys/options")
    return client.post("/account/passkeys", data={"csrf_token": token, "credential": device.create(opts, **where),
                                                  "name": name})


def passkey_sign_in(client, device, next_url=None, **how):
    opts, token = options(client, "/login/passkey/options", page="/login")
    data = {"csrf_token": token, "credential": device.get(opts, **how)}
    if next_url:
        data["next"] = next_url
    return client.post("/login/passkey", data=data)


def audit_events(caplog, name):
    return [e for e in (json.loads(r.getMessage()) for r in caplog.records if r.name == "idp.audit")
            if e["event"] == name]


def db_rows(app, sql, *params):
    with app.app_context():
        from idp.db import get_db
        return get_db().execute(sql, params).fetchall()


@pytest.fixture
def device(flow):
    """alice, signed in with her password in flow.client, with one passkey added."""
    device = Authenticator()
    response = add_passkey(flow.client, device)
    assert response.status_code == 303, response.text
    return device
