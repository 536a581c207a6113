// WebAuthn calls the e2e test makes through softkey's hidraw device.
// Each returns a string: "OK ..." or "ERR name: message".
"use strict";
const rand = (n) => crypto.getRandomValues(new Uint8Array(n));
const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const userId = new TextEncoder().encode("e2e-user-1");
window.softkey = { credentialId: null };

async function run(label, body) {
  const t0 = performance.now();
  try {
    const detail = await body();
    return `OK ${label} ${detail} in ${Math.round(performance.now() - t0)}ms`;
  } catch (e) {
    return `ERR ${label} ${e.name}: ${e.message} after ${Math.round(performance.now() - t0)}ms`;
  }
}

// Sign up: a discoverable credential (a passkey), ES256 or EdDSA.
window.doCreate = (residentKey = "required") => run("create", async () => {
  const cred = await navigator.credentials.create({ publicKey: {
    rp: { id: "localhost", name: "softkey e2e" },
    user: { id: userId, name: "alice@softkey.test", displayName: "Alice" },
    challenge: rand(32),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -8 }],
    authenticatorSelection: { authenticatorAttachment: "cross-platform",
      residentKey, requireResidentKey: residentKey === "required", userVerification: "discouraged" },
    attestation: "none", timeout: 60000 } });
  window.softkey.credentialId = cred.id;
  const flags = new Uint8Array(cred.response.getAuthenticatorData())[32];
  if (!(flags & 0x01)) throw new Error("UP flag not set");
  return `id=${cred.id} alg=${cred.response.getPublicKeyAlgorithm()} flags=0x${flags.toString(16)}`;
});

// Sign in without a user name: empty allowCredentials, the key finds the passkey.
window.doGetDiscoverable = () => run("get-discoverable", async () => {
  const a = await navigator.credentials.get({ publicKey: {
    challenge: rand(32), rpId: "localhost", userVerification: "discouraged", timeout: 60000 } });
  if (a.id !== window.softkey.credentialId) throw new Error(`got ${a.id}, want ${window.softkey.credentialId}`);
  const handle = new TextDecoder().decode(a.response.userHandle);
  if (handle !== "e2e-user-1") throw new Error(`userHandle ${handle}`);
  return `id=${a.id} user=${handle}`;
});

// Sign in naming the credential (allowCredentials).
window.doGetAllowed = () => run("get-allowed", async () => {
  const a = await navigator.credentials.get({ publicKey: {
    challenge: rand(32), rpId: "localhost", userVerification: "discouraged", timeout: 60000,
    allowCredentials: [{ type: "public-key", id: unb64u(window.softkey.credentialId) }] } });
  if (a.id !== window.softkey.credentialId) throw new Error(`got ${a.id}`);
  const flags = new Uint8Array(a.response.authenticatorData)[32];
  return `id=${a.id} flags=0x${flags.toString(16)}`;
});
