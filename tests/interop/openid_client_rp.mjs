// A confidential server-side app using openid-client (the OpenID Certified relying party), driven
// by test_interop_openid_client.py: it prints the authorization URL, reads the callback URL the
// browser reached on stdin, then runs its checks and prints one JSON line per check.
import * as client from "openid-client";
import { createInterface } from "node:readline";

const { IDP, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT } = process.env;
const results = [];
const check = (name, ok, detail) => results.push({ name, ok: Boolean(ok), detail });

const config = await client.discovery(new URL(IDP), CLIENT_ID, undefined,
  client.ClientSecretBasic(CLIENT_SECRET), { execute: [client.allowInsecureRequests] });
const meta = config.serverMetadata();
check("discovery", meta.issuer === IDP && meta.supportsPKCE("S256"), meta.issuer);

const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: "openid profile email groups offline_access",
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: "S256",
  state,
  nonce,
});
console.log(JSON.stringify({ authorization_url: url.href }));

const callback = await new Promise((resolve) => {
  createInterface({ input: process.stdin }).once("line", resolve);
});

// Validates state, iss (RFC 9207), PKCE, and the ID token: signature via JWKS, iss, aud, exp, nonce.
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
});
const claims = tokens.claims();
check("code_flow_with_pkce_state_nonce", tokens.access_token && tokens.refresh_token, tokens.scope);
check("id_token_validated", claims.sub === "alice" && claims.nonce === nonce && claims.aud === CLIENT_ID, claims.iss);

const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
check("userinfo", userinfo.email === "alice@example.org" && userinfo.groups.includes("staff"), userinfo.sub);

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
check("refresh_with_rotation", refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token
  && refreshed.claims().sub === "alice" && refreshed.claims().auth_time === claims.auth_time, refreshed.scope);

const active = await client.tokenIntrospection(config, refreshed.access_token);
check("introspection", active.active === true && active.client_id === CLIENT_ID && active.sub === "alice", active.scope);

await client.tokenRevocation(config, refreshed.refresh_token);
const revoked = await client.tokenIntrospection(config, refreshed.access_token);
check("revocation", revoked.active === false, JSON.stringify(revoked));

const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token, post_logout_redirect_uri: POST_LOGOUT, state: "bye",
});
check("end_session_url", endSession.href.startsWith(IDP + "/logout?"), endSession.href);
console.log(JSON.stringify({ end_session_url: endSession.href }));
for (const result of results) console.log(JSON.stringify(result));
