// The Chromium steps on softkey's demo relying party (`softkey rp`), evaluated
// in its page over the DevTools protocol. They drive the page's own ceremonies
// (signUp, signOut, signIn in app.js: its JSON API, parse*OptionsFromJSON,
// toJSON) and check the outcome through GET /api/me and the page itself.
// Each returns a string: "OK ..." or "ERR name: message".
"use strict";
window.e2e = window.e2e || (() => {
  const USER = window.E2E_USER || "alice";
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const pageStatus = () => document.getElementById("status").textContent;
  const me = async () => {
    const response = await fetch("/api/me", { credentials: "same-origin" });
    return { status: response.status, body: await response.json().catch(() => ({})) };
  };
  // Keep what the browser returned, to report the authenticator data flags.
  const seen = {};
  const container = navigator.credentials;
  const create = container.create.bind(container), get = container.get.bind(container);
  container.create = async (options) => (seen.create = await create(options));
  container.get = async (options) => {
    if (!options || options.mediation === "conditional") return get(options);
    const credential = await get(options);
    seen.get = credential;
    return credential;
  };
  const flags = (data) => "0x" + new Uint8Array(data)[32].toString(16);
  // The page's passkey autofill (a conditional get) is aborted by each
  // ceremony first; should the browser still call it pending, try again.
  async function ceremony(body) {
    for (let attempt = 1; ; attempt++) {
      try { return await body(); } catch (e) {
        if (attempt < 3 && e && e.name === "NotAllowedError" && /pending/i.test(e.message)) { await sleep(2000); continue; }
        throw e;
      }
    }
  }
  async function run(label, body) {
    const t0 = performance.now();
    try {
      return `OK ${label} ${await body()} in ${Math.round(performance.now() - t0)}ms`;
    } catch (e) {
      return `ERR ${label} ${e && e.name}: ${e && e.message} (page says: ${pageStatus()}) after ${Math.round(performance.now() - t0)}ms`;
    }
  }
  const check = (ok, what) => { if (!ok) throw new Error(what); };
  return {
    signUp: () => run("sign-up", async () => {
      document.getElementById("username").value = USER;
      await ceremony(() => signUp());
      check(pageStatus() === `Passkey created for ${USER}.`, `page status "${pageStatus()}"`);
      const m = await me();
      check(m.status === 200 && m.body.username === USER, `/api/me ${m.status} ${JSON.stringify(m.body)}`);
      check(m.body.credentials.length === 1, `${m.body.credentials.length} passkeys`);
      const c = seen.create;
      check(c && c.id === m.body.credentials[0].id, "the stored passkey is not the one created");
      const f = flags(c.response.getAuthenticatorData());
      check(Number(f) & 0x01, `UP not set (flags ${f})`);
      check(Number(f) & 0x04, `UV not set (flags ${f}): built-in user verification was not used`);
      const rk = c.getClientExtensionResults().credProps;
      return `user=${USER} id=${c.id} alg=${c.response.getPublicKeyAlgorithm()} flags=${f} ` +
        `credProps.rk=${rk ? rk.rk : "?"} att=${m.body.credentials[0].attestationFormat}`;
    }),
    signOut: () => run("sign-out", async () => {
      await signOut();
      const m = await me();
      check(m.status === 401, `/api/me still ${m.status} after sign-out`);
      check(!document.getElementById("signed-out").hidden, "the page does not show the signed-out view");
      return `page says "${pageStatus()}", /api/me ${m.status} ${m.body.error}`;
    }),
    // Username-less sign-in through the page: empty allowCredentials, UV
    // preferred; the key finds the passkey.
    signIn: () => run("sign-in-username-less", async () => {
      document.getElementById("username").value = "";
      await ceremony(() => signIn(false));
      check(pageStatus() === `Signed in as ${USER}.`, `page status "${pageStatus()}"`);
      const a = seen.get;
      check(a, "no assertion seen");
      check(a.response.userHandle && a.response.userHandle.byteLength > 0, "no userHandle: not a discoverable credential");
      const f = flags(a.response.authenticatorData);
      check(Number(f) & 0x01, `UP not set (flags ${f})`);
      return `user=${USER} id=${a.id} flags=${f}`;
    }),
    // Sign-in with the username: allowCredentials names the user's passkey.
    signInWithName: () => run("sign-in-with-username", async () => {
      document.getElementById("username").value = USER;
      await ceremony(() => signIn(true));
      check(pageStatus() === `Signed in as ${USER}.`, `page status "${pageStatus()}"`);
      const a = seen.get;
      check(a, "no assertion seen");
      const f = flags(a.response.authenticatorData);
      check(Number(f) & 0x01, `UP not set (flags ${f})`);
      return `user=${USER} id=${a.id} flags=${f}`;
    }),
    passkeys: () => run("passkey-listed", async () => {
      const m = await me();
      check(m.status === 200 && m.body.username === USER, `/api/me ${m.status} ${JSON.stringify(m.body)}`);
      check(m.body.credentials.length === 1, `${m.body.credentials.length} passkeys`);
      const c = m.body.credentials[0];
      check(c.lastUsedAt, "the passkey was never used to sign in");
      check(!seen.get || seen.get.id === c.id, `signed in with ${seen.get && seen.get.id}, listed ${c.id}`);
      const items = [...document.querySelectorAll("#passkeys li.passkey")].map((li) => li.dataset.id);
      check(items.length === 1 && items[0] === c.id, `page lists ${JSON.stringify(items)}`);
      check(document.getElementById("whoami").textContent === USER, "page does not say who is signed in");
      return `id=${c.id} alg=${c.algorithm} signCount=${c.signCount} aaguid=${c.aaguid}`;
    }),
  };
})();
