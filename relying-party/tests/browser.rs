//! A real browser against the demo server: headless Chromium (Debian package
//! `chromium`) with the DevTools WebAuthn virtual authenticator (a CTAP2 platform
//! authenticator with resident keys and UV) drives the page end to end: sign up,
//! sign out, sign in with a username, without one, and through passkey autofill
//! (conditional mediation), see the passkey listed, delete it, and see it refused.
//!
//! Without a Chromium binary the test prints `SKIPPED` and passes, unless
//! `SOFTKEY_REQUIRE_BROWSER=1`, when it fails. `SOFTKEY_CHROMIUM=/path` picks the
//! binary; `SOFTKEY_SCREENSHOT_DIR=dir` saves a PNG of each step.

mod cdp;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use softkey_rp::server::{ServerConfig, serve_on};

use cdp::Cdp;

fn find_chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("SOFTKEY_CHROMIUM") {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |directory| directory.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Kills the browser and removes its profile when the test ends, however it ends.
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn launch(chromium: &PathBuf) -> (Browser, String) {
    let profile = std::env::temp_dir().join(format!("softkey-rp-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium.display()));
    let mut browser = Browser { child, profile };
    let stderr = browser.child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = sender.send(url.trim().to_owned());
            }
        }
    });
    let url = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("Chromium printed its DevTools URL within 60 s");
    (browser, url)
}

/// Polls `expression` until it is truthy; on timeout, or if the page shows an error, fails with the page's status.
fn wait_for(cdp: &mut Cdp, what: &str, expression: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if cdp.eval(expression).expect("evaluates") == json!(true) {
            return;
        }
        let status = cdp.eval("document.getElementById('status')?.className + ': ' + document.getElementById('status')?.textContent").unwrap_or(Value::Null);
        if status
            .as_str()
            .is_some_and(|status| status.starts_with("error:"))
            // The awaited state may be this very error, shown between the
            // two evaluations.
            && cdp.eval(expression).expect("evaluates") != json!(true)
        {
            panic!("{what}: the page reports {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what}: timed out; page status {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn click(cdp: &mut Cdp, selector: &str) {
    cdp.eval(&format!(
        "document.querySelector({selector:?}).click(), true"
    ))
    .expect("click");
}

fn screenshot(cdp: &mut Cdp, name: &str) {
    let Some(directory) = std::env::var_os("SOFTKEY_SCREENSHOT_DIR") else {
        return;
    };
    let shot = cdp
        .call("Page.captureScreenshot", json!({ "format": "png" }))
        .expect("screenshot");
    let png = base64_decode(shot["data"].as_str().expect("data"));
    std::fs::write(PathBuf::from(directory).join(format!("{name}.png")), png)
        .expect("write screenshot");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// Signs out with the authenticator's automatic presence off, so the page's autofill
/// request (conditional mediation) stays pending instead of signing straight back in.
fn sign_out_quietly(cdp: &mut Cdp, authenticator_id: &Value) {
    let presence = |cdp: &mut Cdp, enabled: bool| {
        cdp.call(
            "WebAuthn.setAutomaticPresenceSimulation",
            json!({ "authenticatorId": authenticator_id, "enabled": enabled }),
        )
        .expect("presence simulation");
    };
    presence(cdp, false);
    click(cdp, "#signout");
    wait_for(cdp, "sign out", SIGNED_OUT);
    presence(cdp, true);
}

const SIGNED_IN: &str = "!document.getElementById('signed-in').hidden";
const SIGNED_OUT: &str = "!document.getElementById('signed-out').hidden";
const PASSKEY_COUNT: &str = "document.querySelectorAll('#passkeys li.passkey').length";

#[test]
fn chromium_signs_up_signs_in_lists_and_deletes_a_passkey() {
    let Some(chromium) = find_chromium() else {
        assert!(
            std::env::var("SOFTKEY_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "SOFTKEY_REQUIRE_BROWSER=1 but no Chromium found: install the Debian package `chromium` \
             (apt-get install -y chromium) or set SOFTKEY_CHROMIUM=/path/to/chromium"
        );
        println!(
            "SKIPPED: browser end-to-end test: no chromium on PATH (set SOFTKEY_REQUIRE_BROWSER=1 to make this fail)"
        );
        eprintln!("SKIPPED: browser end-to-end test: no chromium on PATH");
        return;
    };

    // The relying party, in process, on a free loopback port.
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    let origin = format!("http://localhost:{port}");
    let config = ServerConfig {
        listen: listener.local_addr().expect("local address"),
        origin: origin.clone(),
        ..ServerConfig::default()
    };
    runtime.spawn(async move {
        if let Err(error) = serve_on(listener, config).await {
            eprintln!("server stopped: {error}");
        }
    });

    let (_browser, devtools_url) = launch(&chromium);
    let mut cdp = Cdp::connect(&devtools_url).expect("DevTools connection");
    cdp.attach_new_page().expect("page");
    cdp.call("WebAuthn.enable", json!({ "enableUI": false }))
        .expect("WebAuthn.enable");
    let authenticator = cdp
        .call(
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": {
                "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
                "hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )
        .expect("virtual authenticator");
    let authenticator_id = authenticator["authenticatorId"].clone();

    cdp.call("Page.navigate", json!({ "url": format!("{origin}/") }))
        .expect("navigate");
    wait_for(
        &mut cdp,
        "page load",
        "document.readyState === 'complete' && !!document.getElementById('signup')",
    );
    wait_for(&mut cdp, "signed-out view", SIGNED_OUT);
    screenshot(&mut cdp, "1-signed-out");

    // Sign up.
    cdp.eval("document.getElementById('username').value = 'alice', true")
        .expect("type username");
    click(&mut cdp, "#signup");
    wait_for(&mut cdp, "sign up", SIGNED_IN);
    assert_eq!(
        cdp.eval("document.getElementById('whoami').textContent")
            .expect("whoami"),
        json!("alice")
    );
    assert_eq!(cdp.eval(PASSKEY_COUNT).expect("count"), json!(1));
    screenshot(&mut cdp, "2-signed-up");
    let credentials = cdp
        .call(
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator_id }),
        )
        .expect("credentials");
    let credentials = credentials["credentials"].as_array().expect("array");
    assert_eq!(
        credentials.len(),
        1,
        "one credential on the virtual authenticator"
    );
    assert_eq!(credentials[0]["isResidentCredential"], json!(true));

    // Sign out, sign in with the username.
    sign_out_quietly(&mut cdp, &authenticator_id);
    cdp.eval("document.getElementById('username').value = 'alice', true")
        .expect("type username");
    click(&mut cdp, "#signin");
    wait_for(&mut cdp, "sign in with username", SIGNED_IN);

    // Sign out, sign in username-less (discoverable credential, modal).
    sign_out_quietly(&mut cdp, &authenticator_id);
    cdp.eval("document.getElementById('username').value = '', true")
        .expect("clear username");
    click(&mut cdp, "#signin-discoverable");
    wait_for(&mut cdp, "username-less sign in", SIGNED_IN);
    assert_eq!(
        cdp.eval("document.getElementById('whoami').textContent")
            .expect("whoami"),
        json!("alice")
    );

    // Sign out with presence on: the page's passkey-autofill request (conditional mediation)
    // is answered by the virtual authenticator, which signs the user straight back in.
    cdp.eval(
        "window.mediations = []; const get = navigator.credentials.get.bind(navigator.credentials); \
         navigator.credentials.get = (options) => { mediations.push(options.mediation || 'optional'); return get(options); }, true",
    )
    .expect("record mediations");
    click(&mut cdp, "#signout");
    wait_for(
        &mut cdp,
        "autofill sign in",
        &format!("{SIGNED_IN} && mediations.includes('conditional')"),
    );

    // The passkey is listed, with a last-used time; delete it.
    wait_for(
        &mut cdp,
        "passkey listed",
        &format!("{PASSKEY_COUNT} === 1"),
    );
    assert!(
        cdp.eval("document.querySelector('#passkeys li.passkey .meta').textContent")
            .expect("meta")
            .as_str()
            .is_some_and(|meta| !meta.contains("last used never")),
        "sign-ins recorded a last-used time"
    );
    screenshot(&mut cdp, "3-signed-in");
    click(&mut cdp, "#passkeys li.passkey button.delete");
    wait_for(
        &mut cdp,
        "passkey deleted",
        &format!("{PASSKEY_COUNT} === 0"),
    );
    let me = cdp
        .eval("fetch('/api/me').then(r => r.json())")
        .expect("api/me");
    assert_eq!(me["credentials"], json!([]), "server forgot the credential");
    screenshot(&mut cdp, "4-deleted");

    // A sign-in attempt with the deleted passkey is refused by name.
    sign_out_quietly(&mut cdp, &authenticator_id);
    click(&mut cdp, "#signin-discoverable");
    wait_for(
        &mut cdp,
        "deleted passkey refused",
        "document.getElementById('status').textContent.startsWith('unknown_credential')",
    );
    println!(
        "browser end-to-end: sign up, sign out, sign in (username, username-less, autofill), list, delete: ok"
    );
}
