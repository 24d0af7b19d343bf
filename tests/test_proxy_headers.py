"""X-Forwarded-* are believed only from PROXY_HOPS proxies, and Latchkey warns when the set-up lets a
client forge them (the address throttling counts) or when a TLS proxy's scheme is not believed."""

import pytest
from helpers import csrf_token

from idp import create_app


def attempt(client, address, forwarded=None, **environ):
    env = {"REMOTE_ADDR": address, **environ}
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    page = client.get("/login", environ_base=env, headers=headers)
    return client.post("/login", environ_base=env, headers=headers, data={
        "username": "alice", "password": "wrong", "csrf_token": csrf_token(page.text)})


def audit_addresses(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "idp.audit" and "sign_in_failed" in r.getMessage()]


def test_without_proxy_hops_a_forged_x_forwarded_for_is_ignored(client, alice, caplog):
    caplog.set_level("INFO")
    attempt(client, "203.0.113.7", forwarded="10.10.10.10")
    assert '"address": "203.0.113.7"' in audit_addresses(caplog)[-1]


def test_with_proxy_hops_the_proxys_address_is_believed(settings, alice, caplog):
    caplog.set_level("INFO")
    app = create_app({**settings, "PROXY_HOPS": 1})
    attempt(app.test_client(), "127.0.0.1", forwarded="198.51.100.4")
    assert '"address": "198.51.100.4"' in audit_addresses(caplog)[-1]


@pytest.mark.parametrize("environ", [{"SERVER_NAME": "0.0.0.0", "REMOTE_ADDR": "127.0.0.1"},
                                     {"SERVER_NAME": "::", "REMOTE_ADDR": "::1"},
                                     {"SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "203.0.113.7"}])
def test_proxy_hops_on_a_server_reachable_from_elsewhere_logs_a_warning_once(settings, caplog, environ):
    """Anyone who reaches Latchkey without the proxy can write X-Forwarded-For themselves."""
    app = create_app({**settings, "PROXY_HOPS": 1})
    client = app.test_client()
    for _ in range(3):
        client.get("/login", environ_overrides=environ, headers={"X-Forwarded-For": "10.1.2.3"})
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "PROXY_HOPS=1" in r.getMessage()]
    assert len(warnings) == 1 and "can forge the address" in warnings[0].getMessage()


def test_proxy_hops_behind_a_loopback_proxy_gives_no_warning(settings, caplog):
    app = create_app({**settings, "PROXY_HOPS": 1})
    app.test_client().get("/login", environ_overrides={"SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1"},
                          headers={"X-Forwarded-For": "198.51.100.4"})
    assert not [r for r in caplog.records if "PROXY_HOPS" in r.getMessage()]


def test_an_https_issuer_reached_over_plain_http_without_a_forwarded_scheme_logs_a_warning(settings, caplog):
    app = create_app({**settings, "ISSUER": "https://id.example.org"})
    app.test_client().get("/login", base_url="http://id.example.org")
    assert any("ISSUER is https but a request arrived over plain http" in r.getMessage() for r in caplog.records)


def test_an_https_issuer_behind_a_believed_tls_proxy_gives_no_warning(settings, caplog):
    app = create_app({**settings, "ISSUER": "https://id.example.org", "PROXY_HOPS": 1})
    app.test_client().get("/login", base_url="http://id.example.org",
                          environ_overrides={"SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1"},
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"})
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "ISSUER" in r.getMessage()]
