// Latchkey's only script: passkeys (WebAuthn). Loaded with <script src defer> on the pages that
// offer them; the Content-Security-Policy allows scripts from this origin only, never inline.
//
// A form with data-passkey="sign-in" or "register" runs a ceremony when submitted: it fetches the
// options from data-options (a POST carrying the form's CSRF token in X-CSRFToken), converts them
// from JSON to ArrayBuffers, asks the browser (navigator.credentials.get / create), puts the answer
// back into JSON in the form's hidden "credential" field and submits the form for real. The server
// checks everything and answers with an ordinary page. On the sign-in page, when the browser can
// offer passkeys as autofill on the username field (conditional mediation), it does so at once.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return; // No WebAuthn here: the passkey controls stay hidden.
  }

  function toBuffer(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, {id: toBuffer(c.id)}); });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, {id: toBuffer(json.user.id)}),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  // The credential as JSON (WebAuthn Level 3 RegistrationResponseJSON / AuthenticationResponseJSON).
  function credentialJSON(credential) {
    const r = credential.response;
    const response = {clientDataJSON: toBase64url(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        response.userHandle = toBase64url(r.userHandle);
      }
    }
    const json = {id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response: response,
                  clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}};
    if (credential.authenticatorAttachment) {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    return JSON.stringify(json);
  }

  // The form's fields go along (a password the server asks for before a new passkey is made).
  async function fetchOptions(form) {
    const answer = await fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": form.elements.csrf_token.value, "Accept": "application/json"},
      body: new URLSearchParams(new FormData(form)),
    });
    if (!answer.ok) {
      const said = await answer.json().catch(function () { return {}; });
      const error = new Error("options");
      error.said = said.error;
      throw error;
    }
    return answer.json();
  }

  function submitWith(form, credential) {
    form.elements.credential.value = credentialJSON(credential);
    if (form.elements.password) {
      form.elements.password.value = ""; // it did its work when the options were fetched
    }
    form.submit(); // a real POST: the server answers with a page (no submit event, so no loop)
  }

  function message(error, registering) {
    if (error && error.said) {
      return error.said; // the server's own words (an expired page, a wrong password)
    }
    switch (error && error.name) {
      case "NotAllowedError":
        return registering ? "No passkey was made. Try again when you are ready."
                           : "No passkey was used. Try again, or sign in with your password.";
      case "InvalidStateError":
        return "This device already has a passkey for your account.";
      case "SecurityError":
        return "Passkeys cannot be used at this address.";
      default:
        return "Something went wrong with the passkey. Try again.";
    }
  }

  function showError(form, text) {
    const place = form.querySelector("[data-passkey-error]");
    if (place) {
      place.textContent = text;
      place.hidden = false;
    }
  }

  // Autofill (conditional mediation): one pending request, aborted when the button is pressed.
  let autofill = null;

  async function stopAutofill() {
    if (autofill) {
      const pending = autofill;
      autofill = null;
      pending.controller.abort();
      await pending.done.catch(function () {});
    }
  }

  function offerAutofill(form) {
    const controller = new AbortController();
    const done = (async function () {
      if (!PublicKeyCredential.isConditionalMediationAvailable ||
          !(await PublicKeyCredential.isConditionalMediationAvailable()) || controller.signal.aborted) {
        return;
      }
      const options = await fetchOptions(form);
      if (controller.signal.aborted) {
        return;
      }
      const credential = await navigator.credentials.get(
        {publicKey: requestOptions(options), mediation: "conditional", signal: controller.signal});
      if (credential && !controller.signal.aborted) {
        submitWith(form, credential);
      }
    })();
    autofill = {controller: controller, done: done};
    done.catch(function (error) {
      if (autofill && autofill.done === done) {
        autofill = null;
      }
      if (error.name !== "AbortError" && !controller.signal.aborted) {
        showError(form, message(error, false));
      }
    });
  }

  async function ceremony(form) {
    if (form.dataset.passkey === "sign-in") {
      await stopAutofill();
      const options = await fetchOptions(form);
      submitWith(form, await navigator.credentials.get({publicKey: requestOptions(options)}));
    } else {
      const options = await fetchOptions(form);
      submitWith(form, await navigator.credentials.create({publicKey: creationOptions(options)}));
    }
  }

  document.querySelectorAll("[data-passkey-only]").forEach(function (element) {
    element.hidden = false;
  });

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      const place = form.querySelector("[data-passkey-error]");
      if (place) {
        place.hidden = true;
      }
      if (button) {
        button.disabled = true;
      }
      ceremony(form).catch(function (error) {
        showError(form, message(error, form.dataset.passkey !== "sign-in"));
        if (button) {
          button.disabled = false;
        }
        if (form.dataset.passkey === "sign-in" && !autofill) {
          offerAutofill(form); // the browser may offer it again in the username field
        }
      });
    });
  });

  const signIn = document.querySelector('form[data-passkey="sign-in"]');
  if (signIn && document.querySelector('input[autocomplete~="webauthn"]')) {
    offerAutofill(signIn);
  }
})();
