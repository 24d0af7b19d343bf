// A single-page app as people write them with oidc-client-ts: a public client with PKCE,
// tokens and userinfo through CORS, renewal with the refresh token, RP-initiated logout.
const origin = window.location.origin;
const mgr = new oidc.UserManager({
  authority: window.IDP,
  client_id: "spa",
  redirect_uri: origin + "/callback.html",
  post_logout_redirect_uri: origin + "/index.html",
  response_type: "code",
  scope: "openid profile email offline_access",
  automaticSilentRenew: false,
  userStore: new oidc.WebStorageStateStore({ store: window.localStorage }),
});

function show(id, value) {
  document.getElementById(id).textContent = typeof value === "string" ? value : JSON.stringify(value);
}

async function main() {
  if (location.pathname.endsWith("/callback.html")) {
    await mgr.signinRedirectCallback();
    location.replace("/index.html");
    return;
  }
  const user = await mgr.getUser();
  show("status", user ? "signed in as " + user.profile.preferred_username : "signed out");
  if (user) show("token", user.access_token);
  document.getElementById("login").onclick = () => mgr.signinRedirect();
  document.getElementById("userinfo").onclick = async () => {
    const current = await mgr.getUser();
    const endpoint = await mgr.metadataService.getUserInfoEndpoint();
    const response = await fetch(endpoint, { headers: { Authorization: "Bearer " + current.access_token } });
    show("result", { status: response.status, claims: await response.json() });
  };
  document.getElementById("renew").onclick = async () => {
    const before = await mgr.getUser();
    const after = await mgr.signinSilent();
    show("result", {
      renewed: after.access_token !== before.access_token && after.refresh_token !== before.refresh_token,
      sub: after.profile.sub,
    });
  };
  document.getElementById("logout").onclick = () => mgr.signoutRedirect({ state: "bye" });
}

main().catch((e) => show("status", "error: " + e.message));
