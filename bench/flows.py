"""What the benchmark's clients do: a browser signing in through a provider's HTML login form, and an
app using the token, refresh and userinfo endpoints. One class serves Latchkey and oidc-provider;
they differ only in their login form's field names and their scopes."""

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

REDIRECT_URI = "http://127.0.0.1:8080/callback"
CLIENT_ID = "bench-app"
PASSWORD = "correct horse battery staple"
_INPUT = re.compile(r"<input\b[^>]*>")


def hidden_fields(html):
    """The hidden inputs of a page's form, as a browser would send them."""
    fields = {}
    for tag in _INPUT.findall(html):
        if 'type="hidden"' in tag:
            name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
            fields[name.group(1)] = value.group(1).replace("&amp;", "&") if value else ""
    return fields


@dataclass
class Provider:
    name: str
    url: str
    client_secret: str
    username_field: str  # the login form's field for the username
    scope: str

    def meta(self):
        if not hasattr(self, "_meta"):
            self._meta = requests.get(self.url + "/.well-known/openid-configuration", timeout=10).json()
        return self._meta

    def sign_in(self, username):
        """A new browser: authorize, the login form, the code, the token request. Returns the tokens."""
        browser = requests.Session()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        url = self.meta()["authorization_endpoint"] + "?" + requests.compat.urlencode({
            "client_id": CLIENT_ID, "response_type": "code", "scope": self.scope, "redirect_uri": REDIRECT_URI,
            "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge, "code_challenge_method": "S256"})
        response = browser.get(url, allow_redirects=False, timeout=30)
        for _ in range(8):
            if response.is_redirect:
                location = urljoin(url, response.headers["Location"])
                if location.startswith(REDIRECT_URI):
                    code = parse_qs(urlsplit(location).query)["code"][0]
                    return self.token({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
                url = location
                response = browser.get(url, allow_redirects=False, timeout=30)
            elif response.status_code == 200 and 'type="password"' in response.text:
                action = re.search(r'<form[^>]* action="([^"]+)"', response.text).group(1).replace("&amp;", "&")
                form = hidden_fields(response.text)
                form.update({self.username_field: username, "password": PASSWORD})
                url = urljoin(url, action)
                response = browser.post(url, data=form, allow_redirects=False, timeout=30)
            else:
                break
        raise RuntimeError(f"{self.name}: sign-in stopped at {response.status_code} {url}\n{response.text[:500]}")

    def token(self, form):
        response = requests.post(self.meta()["token_endpoint"], data=form, timeout=30,
                                 auth=(CLIENT_ID, self.client_secret))
        if response.status_code != 200:
            raise RuntimeError(f"{self.name}: token request answered {response.status_code}: {response.text}")
        return response.json()


class Operation:
    """One kind of operation a load process repeats; `setup` runs before the clock starts."""

    def __init__(self, provider, username):
        self.provider, self.username = provider, username
        self.http = requests.Session()

    def setup(self):
        pass

    def once(self):
        raise NotImplementedError


class SignIn(Operation):
    def once(self):
        self.provider.sign_in(self.username)


class Refresh(Operation):
    def setup(self):
        self.tokens = self.provider.sign_in(self.username)

    def once(self):
        new = self.provider.token({"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]})
        assert new["refresh_token"] != self.tokens["refresh_token"] and "id_token" in new, new
        self.tokens = new


class UserInfo(Operation):
    def setup(self):
        self.headers = {"Authorization": "Bearer " + self.provider.sign_in(self.username)["access_token"]}

    def once(self):
        response = self.http.get(self.provider.meta()["userinfo_endpoint"], headers=self.headers, timeout=30)
        assert response.status_code == 200 and response.json()["sub"], response.text


class Discovery(Operation):
    def once(self):
        response = self.http.get(self.provider.url + "/.well-known/openid-configuration", timeout=30)
        assert response.status_code == 200


class Jwks(Operation):
    def setup(self):
        self.url = self.provider.meta()["jwks_uri"]

    def once(self):
        response = self.http.get(self.url, timeout=30)
        assert response.status_code == 200 and response.json()["keys"]


OPERATIONS = {"sign-in": SignIn, "refresh": Refresh, "userinfo": UserInfo, "discovery": Discovery, "jwks": Jwks}


def timed(operation, count):
    """Run `operation` `count` times; return each run's latency in ms."""
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        operation.once()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies
