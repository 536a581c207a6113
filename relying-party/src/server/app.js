// softkey demo relying party: the page's WebAuthn glue.
// Uses PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON /
// toJSON where the browser has them (WebAuthn L3 §5.1.9–5.1.10), with a small fallback.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- base64url and the JSON fallbacks ----
function b64urlToBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
function bytesToB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
const descriptors = (list) => (list || []).map((d) => ({ ...d, id: b64urlToBytes(d.id) }));

function parseCreationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return { ...json, challenge: b64urlToBytes(json.challenge),
           user: { ...json.user, id: b64urlToBytes(json.user.id) },
           excludeCredentials: descriptors(json.excludeCredentials) };
}
function parseRequestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: b64urlToBytes(json.challenge),
           allowCredentials: descriptors(json.allowCredentials) };
}
function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
  }
  return { id: credential.id, rawId: bytesToB64url(credential.rawId), type: credential.type,
           authenticatorAttachment: credential.authenticatorAttachment || undefined,
           response, clientExtensionResults: credential.getClientExtensionResults() };
}

// ---- API ----
async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message || response.statusText);
    error.name = data.error || "http_" + response.status;
    throw error;
  }
  return data;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}
function fail(error) {
  if (error && error.name === "AbortError") return;
  status((error && error.name ? error.name + ": " : "") + (error && error.message ? error.message : error), true);
}

// ---- conditional mediation (passkey autofill) ----
let conditional = null; // { controller, done }

function startConditional() {
  if (conditional || !window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
  // Registered before the first await, so a button pressed meanwhile can always abort it.
  const controller = new AbortController();
  const done = (async () => {
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    const options = await api("POST", "/api/login/options", {});
    if (controller.signal.aborted) return;
    const credential = await navigator.credentials.get({
      mediation: "conditional", signal: controller.signal, publicKey: parseRequestOptions(options) });
    await finishLogin(credential);
  })().catch((error) => {
    // Autofill that ends without a choice (dismissed, or no UI in this browser) is not an error to show.
    if (error && error.name === "NotAllowedError") { console.info("passkey autofill ended:", error.message); return; }
    fail(error);
  }).finally(() => { if (conditional && conditional.controller === controller) conditional = null; });
  conditional = { controller, done };
}
// Only one WebAuthn request may be pending: end autofill before a modal ceremony.
async function stopConditional() {
  if (!conditional) return;
  const { controller, done } = conditional;
  conditional = null;
  controller.abort();
  await done;
}

// ---- ceremonies ----
async function signUp() {
  await stopConditional();
  status("Waiting for your passkey…");
  const username = $("username").value.trim();
  const options = await api("POST", "/api/register/options", { username, preferPostQuantum: $("post-quantum").checked });
  const credential = await navigator.credentials.create({ publicKey: parseCreationOptions(options) });
  const result = await api("POST", "/api/register/verify", credentialToJSON(credential));
  status("Passkey created for " + result.username + ".");
  await refresh();
}

async function addPasskey() {
  status("Waiting for your passkey…");
  const options = await api("POST", "/api/register/options", { preferPostQuantum: $("post-quantum").checked });
  const credential = await navigator.credentials.create({ publicKey: parseCreationOptions(options) });
  await api("POST", "/api/register/verify", credentialToJSON(credential));
  status("Passkey added.");
  await refresh();
}

async function finishLogin(credential) {
  const result = await api("POST", "/api/login/verify", credentialToJSON(credential));
  status("Signed in as " + result.username + ".");
  await refresh();
}

async function signIn(withUsername) {
  await stopConditional();
  status("Waiting for your passkey…");
  const body = withUsername ? { username: $("username").value.trim() } : {};
  const options = await api("POST", "/api/login/options", body);
  const credential = await navigator.credentials.get({ publicKey: parseRequestOptions(options) });
  await finishLogin(credential);
}

async function signOut() {
  await api("POST", "/api/logout");
  status("Signed out.");
  await refresh();
}

async function deletePasskey(id) {
  await api("DELETE", "/api/credentials/" + encodeURIComponent(id));
  status("Passkey deleted.");
  await refresh();
}

function renderPasskeys(credentials) {
  const list = $("passkeys");
  list.replaceChildren();
  if (credentials.length === 0) {
    const empty = document.createElement("li");
    empty.className = "meta";
    empty.textContent = "No passkeys left. Add one to be able to sign in again.";
    list.append(empty);
  }
  for (const credential of credentials) {
    const item = document.createElement("li");
    item.className = "passkey";
    item.dataset.id = credential.id;
    const text = document.createElement("div");
    const id = document.createElement("code");
    id.textContent = credential.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const created = new Date(credential.createdAt * 1000).toLocaleString();
    const used = credential.lastUsedAt ? new Date(credential.lastUsedAt * 1000).toLocaleString() : "never";
    meta.textContent = `created ${created} · last used ${used} · ${credential.backedUp ? "synced" : "device-bound"}` +
      ` · ${credential.algorithmName || credential.algorithm} · ${credential.attestationFormat} attestation`;
    text.append(id, meta);
    const remove = document.createElement("button");
    remove.className = "danger delete";
    remove.textContent = "Delete";
    remove.addEventListener("click", () => deletePasskey(credential.id).catch(fail));
    item.append(text, remove);
    list.append(item);
  }
}

async function refresh() {
  let me = null;
  try { me = await api("GET", "/api/me"); } catch (error) { if (error.name !== "not_signed_in") throw error; }
  $("signed-in").hidden = !me;
  $("signed-out").hidden = !!me;
  if (me) {
    $("whoami").textContent = me.username;
    renderPasskeys(me.credentials);
    await stopConditional();
  } else {
    startConditional();
  }
}

$("signup").addEventListener("click", () => signUp().catch(fail));
$("signin").addEventListener("click", () => signIn(true).catch(fail));
$("signin-discoverable").addEventListener("click", () => signIn(false).catch(fail));
$("add-passkey").addEventListener("click", () => addPasskey().catch(fail));
$("signout").addEventListener("click", () => signOut().catch(fail));
// "?pq=1" in the address asks for a post-quantum (ML-DSA) passkey by default.
$("post-quantum").checked = new URLSearchParams(location.search).get("pq") === "1";
if (!window.PublicKeyCredential) status("This browser does not support passkeys (WebAuthn).", true);
refresh().catch(fail);
