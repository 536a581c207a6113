//! User presence providers: how softkey asks the person "touch to continue".
//!
//! The core never blocks: it returns a prompt, the runtime hands it to a
//! [`PresenceProvider`], and polls the [`PendingVerdict`] while it keeps the
//! CTAPHID channel alive with keepalives. Dropping a pending verdict abandons
//! the question (the host cancelled, or the device was power-cycled).
//!
//! The names in a prompt (relying party id, user name) come from the
//! platform, that is from any program that can write to the device. Every
//! provider that shows or passes them on takes them through
//! [`sanitize_prompt`] first: no control characters (terminal escapes
//! included), no bidi overrides or invisible format characters, a capped
//! length; the desktop notification escapes its markup on top
//! ([`escape_markup`]).

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use softkey_authenticator::{PromptAction, UserPrompt, Verdict};

/// Asks the person.
pub trait PresenceProvider: Send {
    /// Starts asking; the answer is polled from the returned handle.
    fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict>;
    /// A short name for logs.
    fn name(&self) -> &'static str;
}

/// A question in progress.
pub trait PendingVerdict: Send {
    /// The answer, once there is one. `now` is the runtime's clock (simulated
    /// in tests).
    fn poll(&mut self, now: Instant) -> Option<Verdict>;
}

/// A verdict that is already known.
struct Ready(Option<Verdict>);

impl PendingVerdict for Ready {
    fn poll(&mut self, _now: Instant) -> Option<Verdict> {
        self.0
    }
}

/// A question whose answer is already known (e.g. `Denied` when no provider
/// can ask).
pub fn answered(verdict: Verdict) -> Box<dyn PendingVerdict> {
    Box::new(Ready(Some(verdict)))
}

/// At most this many characters of a user name reach a prompt (CTAP lets
/// an authenticator truncate `user.name` to 64 bytes).
pub const MAX_USER_NAME_CHARS: usize = 64;
/// At most this many characters of a relying party id reach a prompt; a
/// longer one keeps its end, where its registrable domain is.
pub const MAX_RP_ID_CHARS: usize = 128;

/// Which end of an over-long name [`sanitize_for_display`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The beginning (user names).
    Start,
    /// The end (domain names: `login.bank.example.<long>.attacker.example`
    /// must not show as `login.bank.example…`).
    End,
}

/// The prompt with its names made safe to show: see [`sanitize_for_display`].
/// Every provider that shows names or passes them on calls this.
pub fn sanitize_prompt(prompt: &UserPrompt) -> UserPrompt {
    UserPrompt {
        action: prompt.action,
        rp_id: prompt
            .rp_id
            .as_deref()
            .map(|rp_id| sanitize_for_display(rp_id, MAX_RP_ID_CHARS, Keep::End)),
        user_name: prompt
            .user_name
            .as_deref()
            .map(|name| sanitize_for_display(name, MAX_USER_NAME_CHARS, Keep::Start)),
    }
}

/// Text from the platform, made safe for a terminal, a notification or a
/// command's environment: terminal escape sequences (CSI, OSC and the other
/// string sequences, 7- and 8-bit) are removed whole, other control
/// characters and invisible format characters (bidi embeddings, overrides
/// and isolates, zero-width characters, tags) are removed, whitespace
/// (line breaks included) becomes single spaces, and at most `max_chars`
/// characters are kept, from the `keep` end, with "…" where the rest was.
pub fn sanitize_for_display(raw: &str, max_chars: usize, keep: Keep) -> String {
    let mut clean = String::with_capacity(raw.len().min(4 * max_chars));
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_control_sequence(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_control_string(&mut chars);
                }
                // A two-character escape (ESC c, ESC 7, …).
                Some(' '..='~') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_control_sequence(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_control_string(&mut chars),
            c if c.is_whitespace() => {
                if !clean.is_empty() && !clean.ends_with(' ') {
                    clean.push(' ');
                }
            }
            c if c.is_control() || is_invisible_format(c) => {}
            c => clean.push(c),
        }
    }
    let clean = clean.trim_end();
    let count = clean.chars().count();
    if count <= max_chars {
        return clean.to_owned();
    }
    let kept = max_chars.saturating_sub(1);
    match keep {
        Keep::Start => clean.chars().take(kept).chain(['…']).collect(),
        Keep::End => ['…']
            .into_iter()
            .chain(clean.chars().skip(count - kept))
            .collect(),
    }
}

/// Skips a CSI sequence's parameter and intermediate bytes and its final
/// byte (ECMA-48 §5.4); stops early at anything else.
fn skip_control_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\u{20}'..='\u{3f}' => {
                chars.next();
            }
            '\u{40}'..='\u{7e}' => {
                chars.next();
                return;
            }
            _ => return,
        }
    }
}

/// Skips a control string (OSC, DCS, SOS, PM, APC) up to and including its
/// terminator: BEL, ESC \ or the 8-bit ST.
fn skip_control_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// Format characters that reorder or hide text: bidi marks, embeddings,
/// overrides and isolates, zero-width characters, invisible operators,
/// the BOM, interlinear annotations and tag characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Escapes text for the body of a freedesktop notification, which servers
/// read as a small markup language (`<b>`, `<i>`, `<a href>`, `<img>`, entities).
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Conveniences that remove the person from the loop. Never for daily use.
pub mod danger {
    use super::*;

    /// Approves every prompt at once. For simulators and tests only: with it,
    /// any local process can use every credential without anyone noticing.
    #[derive(Debug, Default)]
    pub struct AutoApprove;

    impl PresenceProvider for AutoApprove {
        fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
            tracing::debug!(action = ?prompt.action, rp = ?prompt.rp_id, "presence auto-approved (danger)");
            Box::new(Ready(Some(Verdict::Approved)))
        }

        fn name(&self) -> &'static str {
            "danger-auto-approve"
        }
    }
}

/// A scripted person, for tests: answers from a queue, each after a delay
/// measured on the runtime's clock from the moment it is asked.
#[derive(Debug, Default)]
pub struct Scripted {
    answers: std::collections::VecDeque<(Verdict, Duration)>,
    /// What to answer once the queue is empty (`None`: never answer).
    pub fallback: Option<Verdict>,
}

impl Scripted {
    /// A script of answers, each given after its delay.
    pub fn new(answers: impl IntoIterator<Item = (Verdict, Duration)>) -> Self {
        Self {
            answers: answers.into_iter().collect(),
            fallback: None,
        }
    }
}

struct Delayed {
    verdict: Option<Verdict>,
    delay: Duration,
    asked_at: Option<Instant>,
}

impl PendingVerdict for Delayed {
    fn poll(&mut self, now: Instant) -> Option<Verdict> {
        let asked_at = *self.asked_at.get_or_insert(now);
        if now.saturating_duration_since(asked_at) >= self.delay {
            self.verdict
        } else {
            None
        }
    }
}

impl PresenceProvider for Scripted {
    fn ask(&mut self, _prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let (verdict, delay) = match self.answers.pop_front() {
            Some((verdict, delay)) => (Some(verdict), delay),
            None => (self.fallback, Duration::ZERO),
        };
        Box::new(Delayed {
            verdict,
            delay,
            asked_at: None,
        })
    }

    fn name(&self) -> &'static str {
        "scripted"
    }
}

/// Runs a command for each prompt: exit status 0 approves, anything else
/// denies. The prompt is passed in the environment: `SOFTKEY_ACTION`
/// (register, sign-in, acknowledge, reset, select, verify), `SOFTKEY_RP_ID`,
/// `SOFTKEY_USER_NAME`. The command runs under `sh -c`.
#[derive(Debug, Clone)]
pub struct CommandPresence {
    command: String,
}

impl CommandPresence {
    /// A provider running `command` with `sh -c`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
        }
    }
}

/// The word for an action, as the command provider and logs show it.
pub fn action_name(action: PromptAction) -> &'static str {
    match action {
        PromptAction::Register => "register",
        PromptAction::SignIn => "sign-in",
        PromptAction::Acknowledge => "acknowledge",
        PromptAction::Reset => "reset",
        PromptAction::Select => "select",
        PromptAction::Verify => "verify",
    }
}

struct CommandVerdict {
    child: Option<Child>,
    answer: mpsc::Receiver<Verdict>,
    result: Option<Verdict>,
}

impl PendingVerdict for CommandVerdict {
    fn poll(&mut self, _now: Instant) -> Option<Verdict> {
        if self.result.is_none() {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        self.child = None;
                        self.result = Some(if status.success() {
                            Verdict::Approved
                        } else {
                            Verdict::Denied
                        });
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, "presence command could not be waited for");
                        self.child = None;
                        self.result = Some(Verdict::Denied);
                    }
                }
            } else if let Ok(verdict) = self.answer.try_recv() {
                self.result = Some(verdict);
            }
        }
        self.result
    }
}

impl Drop for CommandVerdict {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Abandoned: the host cancelled or the device power-cycled.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl PresenceProvider for CommandPresence {
    fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let prompt = sanitize_prompt(prompt);
        let (sender, answer) = mpsc::channel();
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("SOFTKEY_ACTION", action_name(prompt.action))
            .env("SOFTKEY_RP_ID", prompt.rp_id.as_deref().unwrap_or(""))
            .env(
                "SOFTKEY_USER_NAME",
                prompt.user_name.as_deref().unwrap_or(""),
            )
            .stdin(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => Some(child),
            Err(error) => {
                tracing::warn!(%error, command = %self.command, "presence command failed to start; denying");
                let _ = sender.send(Verdict::Denied);
                None
            }
        };
        Box::new(CommandVerdict {
            child,
            answer,
            result: None,
        })
    }

    fn name(&self) -> &'static str {
        "command"
    }
}

/// The question a prompt asks, in words (its names sanitised).
pub fn describe(prompt: &UserPrompt) -> String {
    let prompt = sanitize_prompt(prompt);
    let rp = prompt.rp_id.as_deref().unwrap_or("this computer");
    let user = prompt
        .user_name
        .as_deref()
        .map(|u| format!(" as {u}"))
        .unwrap_or_default();
    match prompt.action {
        PromptAction::Register => format!("Create a passkey for {rp}{user}?"),
        PromptAction::SignIn => format!("Sign in to {rp}{user}?"),
        PromptAction::Acknowledge => format!("Confirm a request from {rp}?"),
        PromptAction::Reset => "Erase every passkey on this softkey (factory reset)?".into(),
        PromptAction::Select => "Use this softkey?".into(),
        PromptAction::Verify => format!("Verify yourself for {rp}?"),
    }
}

/// Asks on the controlling terminal (`/dev/tty`): "y" approves, anything
/// else denies. For `softkey run` in a terminal; a daemon without one denies.
#[derive(Debug, Default)]
pub struct TerminalPresence;

struct ChannelVerdict {
    answer: mpsc::Receiver<Verdict>,
    result: Option<Verdict>,
}

impl PendingVerdict for ChannelVerdict {
    fn poll(&mut self, _now: Instant) -> Option<Verdict> {
        if self.result.is_none() {
            match self.answer.try_recv() {
                Ok(verdict) => self.result = Some(verdict),
                Err(mpsc::TryRecvError::Disconnected) => self.result = Some(Verdict::Denied),
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        self.result
    }
}

impl PresenceProvider for TerminalPresence {
    fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let (sender, answer) = mpsc::channel();
        let question = describe(prompt);
        // The reading thread ends with the person's answer; an abandoned
        // question's answer is dropped unread.
        std::thread::spawn(move || {
            let verdict = ask_tty(&question).unwrap_or_else(|error| {
                tracing::warn!(%error, "no terminal to ask on; denying");
                Verdict::Denied
            });
            let _ = sender.send(verdict);
        });
        Box::new(ChannelVerdict {
            answer,
            result: None,
        })
    }

    fn name(&self) -> &'static str {
        "terminal"
    }
}

fn ask_tty(question: &str) -> std::io::Result<Verdict> {
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let mut writer = &tty;
    write!(writer, "\nsoftkey: {question} [y/N] ")?;
    writer.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    Ok(parse_answer(&line))
}

fn parse_answer(line: &str) -> Verdict {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Verdict::Approved,
        _ => Verdict::Denied,
    }
}

/// A desktop notification with Allow and Deny buttons
/// (org.freedesktop.Notifications, through libnotify's `notify-send --wait`,
/// Debian package `libnotify-bin`). Dismissing it denies; the runtime's own
/// timeout ends an unanswered one.
#[derive(Debug, Clone)]
pub struct DesktopNotification {
    program: String,
}

impl Default for DesktopNotification {
    fn default() -> Self {
        Self {
            program: "notify-send".into(),
        }
    }
}

impl DesktopNotification {
    /// Uses another `notify-send`-compatible program (tests).
    pub fn with_program(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
        }
    }
}

struct NotificationVerdict {
    child: Option<Child>,
    result: Option<Verdict>,
}

impl PendingVerdict for NotificationVerdict {
    fn poll(&mut self, _now: Instant) -> Option<Verdict> {
        if self.result.is_some() {
            return self.result;
        }
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(_)) => {
                let mut output = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = std::io::Read::read_to_string(&mut stdout, &mut output);
                }
                self.child = None;
                self.result = Some(if output.trim() == "allow" {
                    Verdict::Approved
                } else {
                    Verdict::Denied
                });
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "notification could not be waited for");
                self.child = None;
                self.result = Some(Verdict::Denied);
            }
        }
        self.result
    }
}

impl Drop for NotificationVerdict {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl PresenceProvider for DesktopNotification {
    fn ask(&mut self, prompt: &UserPrompt) -> Box<dyn PendingVerdict> {
        let spawned = Command::new(&self.program)
            .args([
                "--app-name=softkey",
                "--urgency=critical",
                "--icon=security-high",
                "--action=allow=Allow",
                "--action=deny=Deny",
                "--wait",
                "--",
                "softkey",
                &escape_markup(&describe(prompt)),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => Box::new(NotificationVerdict {
                child: Some(child),
                result: None,
            }),
            Err(error) => {
                tracing::warn!(%error, program = %self.program, "cannot show a notification; denying");
                Box::new(Ready(Some(Verdict::Denied)))
            }
        }
    }

    fn name(&self) -> &'static str {
        "desktop-notification"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> UserPrompt {
        UserPrompt {
            action: PromptAction::Register,
            rp_id: Some("example.com".into()),
            user_name: Some("alice".into()),
        }
    }

    fn wait(pending: &mut Box<dyn PendingVerdict>) -> Verdict {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(verdict) = pending.poll(Instant::now()) {
                return verdict;
            }
            assert!(Instant::now() < deadline, "no verdict");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn command_exit_status_decides() {
        let mut approve = CommandPresence::new(
            "test \"$SOFTKEY_ACTION\" = register && test \"$SOFTKEY_RP_ID\" = example.com",
        );
        assert_eq!(wait(&mut approve.ask(&prompt())), Verdict::Approved);
        let mut deny = CommandPresence::new("exit 3");
        assert_eq!(wait(&mut deny.ask(&prompt())), Verdict::Denied);
    }

    #[test]
    fn scripted_answers_in_order_then_falls_back() {
        let mut script = Scripted::new([
            (Verdict::Denied, Duration::ZERO),
            (Verdict::Approved, Duration::ZERO),
        ]);
        assert_eq!(wait(&mut script.ask(&prompt())), Verdict::Denied);
        assert_eq!(wait(&mut script.ask(&prompt())), Verdict::Approved);
        assert_eq!(script.ask(&prompt()).poll(Instant::now()), None);
    }

    #[test]
    fn terminal_answers_and_descriptions() {
        assert_eq!(parse_answer("y\n"), Verdict::Approved);
        assert_eq!(parse_answer(" YES "), Verdict::Approved);
        assert_eq!(parse_answer("\n"), Verdict::Denied);
        assert_eq!(parse_answer("no"), Verdict::Denied);
        assert_eq!(
            describe(&prompt()),
            "Create a passkey for example.com as alice?"
        );
    }

    /// A user name a hostile platform (or web page) could choose: terminal
    /// escapes (clear screen, set the window title), a bidi override that
    /// reverses what follows, notification markup, a line break, and far
    /// too many characters.
    const HOSTILE_USER: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}ad\u{202e}min\u{2066} <b>bold</b> & <a href='x'>y</a>\r\nnext\u{9b}31m";

    fn hostile_prompt() -> UserPrompt {
        UserPrompt {
            action: PromptAction::Register,
            rp_id: Some(format!("bank.example.{}.attacker.example", "a".repeat(300))),
            user_name: Some(format!("{HOSTILE_USER}{}", "z".repeat(300))),
        }
    }

    fn has_control_or_bidi(text: &str) -> bool {
        text.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
    }

    #[test]
    fn hostile_names_reach_terminal_prompt_sanitised() {
        let question = describe(&hostile_prompt());
        assert!(!has_control_or_bidi(&question), "{question:?}");
        assert!(question.chars().count() < 250, "{question:?}");
        // What is left is readable: the escapes are gone whole, not half.
        assert!(
            !question.contains("[2J") && !question.contains("pwned"),
            "{question:?}"
        );
        assert!(question.contains("admin"), "{question:?}");
        // A long rp id keeps its end, where the registrable domain is.
        assert!(question.contains("a.attacker.example"), "{question:?}");
        assert!(!question.contains("bank.example"), "{question:?}");
    }

    #[test]
    fn sanitiser_keeps_ordinary_names_and_is_idempotent() {
        for name in ["alice", "Zoë 山田 🔑", "login.example.com", "a b"] {
            assert_eq!(sanitize_for_display(name, 64, Keep::Start), name);
        }
        let once = sanitize_for_display(HOSTILE_USER, 64, Keep::Start);
        assert_eq!(sanitize_for_display(&once, 64, Keep::Start), once);
        // Unterminated sequences at the end are dropped, not a panic.
        for tail in [
            "\u{1b}",
            "\u{1b}[",
            "\u{1b}]0;title",
            "\u{9b}12;",
            "\u{1b}P",
        ] {
            assert_eq!(
                sanitize_for_display(&format!("ok{tail}"), 64, Keep::Start),
                "ok"
            );
        }
    }

    #[test]
    fn sanitiser_caps_length_at_the_chosen_end() {
        let long = "x".repeat(10) + &"y".repeat(10);
        assert_eq!(sanitize_for_display(&long, 5, Keep::Start), "xxxx…");
        assert_eq!(sanitize_for_display(&long, 5, Keep::End), "…yyyy");
        assert_eq!(sanitize_for_display(&long, 20, Keep::End), long);
    }

    fn recording_program(dir: &std::path::Path, name: &str, body: &str) -> String {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn notification_body_escapes_markup_from_hostile_names() {
        let dir =
            std::env::temp_dir().join(format!("softkey-notify-hostile-{}", std::process::id()));
        let recorded = dir.join("body");
        // Record the last argument (the body), then press Allow.
        let program = recording_program(
            &dir,
            "notify",
            &format!(
                "for last; do :; done; printf '%s' \"$last\" > '{}'; echo allow",
                recorded.display()
            ),
        );
        let mut provider = DesktopNotification::with_program(program);
        assert_eq!(
            wait(&mut provider.ask(&hostile_prompt())),
            Verdict::Approved
        );
        let body = std::fs::read_to_string(&recorded).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!has_control_or_bidi(&body), "{body:?}");
        assert!(!body.contains('<') && !body.contains('>'), "{body:?}");
        assert!(
            body.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&#39;x&#39;&gt;"),
            "{body:?}"
        );
    }

    #[test]
    fn command_provider_environment_gets_sanitised_names() {
        let dir =
            std::env::temp_dir().join(format!("softkey-command-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let recorded = dir.join("env");
        let mut provider = CommandPresence::new(format!(
            "printf '%s\\n%s' \"$SOFTKEY_USER_NAME\" \"$SOFTKEY_RP_ID\" > '{}'",
            recorded.display()
        ));
        assert_eq!(
            wait(&mut provider.ask(&hostile_prompt())),
            Verdict::Approved
        );
        let written = std::fs::read_to_string(&recorded).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let (user, rp) = written.split_once('\n').unwrap();
        assert!(
            !has_control_or_bidi(user) && !has_control_or_bidi(rp),
            "{written:?}"
        );
        assert!(
            user.starts_with("admin <b>bold</b> & <a href='x'>y</a> next"),
            "{user:?}"
        );
        assert!(user.chars().count() <= 64, "{user:?}");
        assert!(
            rp.ends_with(".attacker.example") && rp.chars().count() <= 128,
            "{rp:?}"
        );
    }

    #[test]
    fn desktop_notification_allow_button_approves() {
        let dir = std::env::temp_dir().join(format!("softkey-notify-{}", std::process::id()));
        let script = |name: &str, body: &str| recording_program(&dir, name, body);
        // notify-send --wait prints the invoked action's key.
        let allow = script(
            "allow",
            "case \"$*\" in *--action=allow=Allow*--wait*) echo allow;; esac",
        );
        let deny = script("deny", "echo deny");
        let dismissed = script("dismissed", "exit 0");
        let mut provider = DesktopNotification::with_program(allow);
        assert_eq!(wait(&mut provider.ask(&prompt())), Verdict::Approved);
        let mut provider = DesktopNotification::with_program(deny);
        assert_eq!(wait(&mut provider.ask(&prompt())), Verdict::Denied);
        let mut provider = DesktopNotification::with_program(dismissed);
        assert_eq!(wait(&mut provider.ask(&prompt())), Verdict::Denied);
        let mut provider = DesktopNotification::with_program("/nonexistent/notify-send");
        assert_eq!(wait(&mut provider.ask(&prompt())), Verdict::Denied);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
