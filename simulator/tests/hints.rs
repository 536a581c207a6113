//! Every command softkey suggests to a person is a real command.
//!
//! Suggestions live in error messages and `fix:` hints (Rust strings), in doc
//! comments that become `--help`, in the README and the docs, and in the
//! packaging files. This test collects each `softkey …` command from those
//! sources and from the rendered `--help` of every subcommand, and parses it
//! with the clap definition of the binary ([`softkey::cli`]). A command that a
//! hint names but that does not exist (`softkey vault create`) fails here.
//!
//! What counts as a suggestion:
//! - a backtick span that starts with `softkey ` (Rust sources, Markdown,
//!   help text);
//! - in Markdown code blocks, a line (or a `$(…)`-free segment after `&&`,
//!   `;`, `|`) that starts with `softkey `, `sudo softkey ` or
//!   `cargo run -p softkey -- `;
//! - an `ExecStart=` line whose program is a `softkey` binary.
//!
//! A span cut short with `…` (or `...`) is checked as the prefix it shows.

use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Texts that start with "softkey " in backticks but are not commands.
const NOT_COMMANDS: &[(&str, &str)] = &[(
    "softkey vault <vault id> slot <n>",
    "the label of a vault's keyring item",
)];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the simulator crate sits in the workspace")
        .to_path_buf()
}

/// Files under `dir` (recursively) whose names end with one of `extensions`.
fn files_under(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, extensions, found);
        } else if extensions
            .iter()
            .any(|ext| path.to_string_lossy().ends_with(ext))
        {
            found.push(path);
        }
    }
}

/// The files whose suggestions are checked.
fn source_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    for crate_dir in [
        "simulator/src",
        "vault/src",
        "transport/src",
        "authenticator/src",
        "relying-party/src",
    ] {
        files_under(&root.join(crate_dir), &[".rs"], &mut files);
    }
    files_under(&root.join("packaging"), &["", ".md"], &mut files);
    files_under(&root.join("docs"), &[".md"], &mut files);
    files_under(&root.join("tests/vm"), &[".md"], &mut files);
    files.push(root.join("README.md"));
    files.sort();
    files.dedup();
    files
}

/// One suggested command and where it was found.
#[derive(Debug, Clone)]
struct Mention {
    text: String,
    origin: String,
}

/// The `softkey …` texts in backtick spans of `line`. A span listing
/// alternatives (`softkey vault init | info | list`) stands for each of them;
/// in any other span `|` is a pipe, and the command ends there.
fn backtick_mentions(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for span in line.split('`').skip(1).step_by(2) {
        if !span.starts_with("softkey ") {
            continue;
        }
        let mut parts = span.split('|').map(str::trim);
        let first = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.filter(|part| !part.is_empty()).collect();
        if !rest.is_empty() && rest.iter().all(|part| !part.contains(' ')) {
            let prefix = first.rsplit_once(' ').map_or(first, |(prefix, _)| prefix);
            found.push(first.to_owned());
            found.extend(rest.iter().map(|word| format!("{prefix} {word}")));
        } else {
            found.push(first.to_owned());
        }
    }
    found
}

/// Whether a Markdown code block with this info string holds shell commands
/// (```text blocks are diagrams).
fn is_shell_block(info: &str) -> bool {
    let language = info.split([' ', ',', '{']).next().unwrap_or_default();
    matches!(language, "" | "sh" | "bash" | "shell" | "console")
}

/// The `softkey …` commands on one line of shell.
fn shell_mentions(line: &str) -> Vec<String> {
    let line = line.split(" #").next().unwrap_or_default();
    line.split("&&")
        .flat_map(|part| part.split([';', '|']))
        .filter_map(|segment| {
            let segment = segment.trim();
            let segment = segment.strip_prefix("sudo ").unwrap_or(segment);
            if let Some(rest) = segment.strip_prefix("cargo run -p softkey -- ") {
                return Some(format!("softkey {rest}"));
            }
            segment.starts_with("softkey ").then(|| segment.to_owned())
        })
        .collect()
}

/// Every suggestion in `text` (the contents of `path`).
fn mentions_in(path: &Path, text: &str) -> Vec<Mention> {
    let markdown = path.extension().is_some_and(|ext| ext == "md");
    let mut found = Vec::new();
    // Inside a code block: whether it is shell.
    let mut in_code: Option<bool> = None;
    for (number, line) in text.lines().enumerate() {
        let origin = format!("{}:{}", path.display(), number + 1);
        let mut push = |text: String| {
            found.push(Mention {
                text,
                origin: origin.clone(),
            });
        };
        if let Some(fence) = line.trim_start().strip_prefix("```").filter(|_| markdown) {
            in_code = match in_code {
                Some(_) => None,
                None => Some(is_shell_block(fence.trim())),
            };
            continue;
        }
        if let Some(shell) = in_code {
            if shell {
                shell_mentions(line).into_iter().for_each(&mut push);
            }
            continue;
        }
        if let Some(exec) = line.strip_prefix("ExecStart=") {
            let mut words = exec.splitn(2, ' ');
            let program = words.next().unwrap_or_default();
            if program.ends_with("/softkey") {
                push(format!("softkey {}", words.next().unwrap_or_default()));
            }
            continue;
        }
        backtick_mentions(line).into_iter().for_each(&mut push);
    }
    found
}

/// The long help of `command` and of every subcommand under it.
fn help_texts(command: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
    out.push((path.to_owned(), command.render_long_help().to_string()));
    for sub in command.get_subcommands_mut() {
        let name = format!("{path} {}", sub.get_name());
        help_texts(sub, &name, out);
    }
}

fn all_mentions() -> Vec<Mention> {
    let mut mentions = Vec::new();
    for path in source_files() {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        mentions.extend(mentions_in(&path, &text));
    }
    let mut command = softkey::cli::command();
    command.build();
    let mut helps = Vec::new();
    help_texts(&mut command, "softkey", &mut helps);
    for (path, help) in helps {
        for line in help.lines() {
            for text in backtick_mentions(line) {
                mentions.push(Mention {
                    text,
                    origin: format!("`{path} --help`"),
                });
            }
        }
    }
    mentions
}

/// Splits a shell command into words (quotes grouped; no expansion).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Parses one suggestion with the binary's clap definition; `Err` says why
/// it is not a real command.
fn check(text: &str) -> Result<(), String> {
    let (shown, cut) = match text.find(['…']).or_else(|| text.find("...")) {
        Some(at) => (&text[..at], true),
        None => (text, false),
    };
    let mut words = shell_words(shown.trim().trim_end_matches('&').trim_end());
    if cut {
        // `softkey sim --control …`: the prefix shown, without a dangling flag.
        while words.last().is_some_and(|word| word.starts_with('-')) {
            words.pop();
        }
    }
    // `softkey sim --control` in prose names the option without its value:
    // clap recognised the option, so drop it and check the rest.
    let mut result = softkey::cli::command().try_get_matches_from(&words);
    while let Err(error) = &result {
        let missing_value = error.kind() == ErrorKind::InvalidValue
            && matches!(
                error.get(ContextKind::InvalidValue),
                Some(ContextValue::String(value)) if value.is_empty()
            );
        let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
            break;
        };
        let flag = arg.split([' ', '=']).next().unwrap_or_default().to_owned();
        let Some(at) = words
            .iter()
            .position(|word| *word == flag)
            .filter(|_| missing_value)
        else {
            break;
        };
        words.remove(at);
        result = softkey::cli::command().try_get_matches_from(&words);
    }
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    | ErrorKind::MissingSubcommand
                    | ErrorKind::MissingRequiredArgument
            ) =>
        {
            // A command named without all it needs (`softkey vault`,
            // `softkey vault delete`) is still a real command.
            Ok(())
        }
        Err(error) => Err(format!("{:?}: {}", error.kind(), error.render())),
    }
}

#[test]
fn every_suggested_softkey_command_parses() {
    let mentions = all_mentions();
    let mut failures = Vec::new();
    let mut checked = 0;
    for mention in &mentions {
        if NOT_COMMANDS.iter().any(|(text, _)| *text == mention.text) {
            continue;
        }
        checked += 1;
        if let Err(why) = check(&mention.text) {
            failures.push(format!("{}: `{}`\n    {why}", mention.origin, mention.text));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} suggested commands are not real commands:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The collector really looked: the known hints are among what it found.
    assert!(checked >= 40, "only {checked} suggestions found");
    for expected in [
        "softkey vault init",
        "softkey run --presence command --presence-command CMD",
        "softkey vault attestation-root",
    ] {
        assert!(
            mentions.iter().any(|m| m.text == expected),
            "`{expected}` was not collected"
        );
    }
    assert!(
        mentions.iter().any(|m| m.origin.contains("--help`")),
        "no suggestion was collected from --help texts"
    );
}

#[test]
fn suggestion_checker_rejects_commands_that_do_not_exist() {
    for wrong in [
        "softkey vault create",
        "softkey run --no-such-flag",
        "softkey sim --presence maybe",
        "softkey frobnicate",
        "softkey sim --transport carrier-pigeon",
        "softkey sim --control --no-such-flag",
    ] {
        assert!(check(wrong).is_err(), "`{wrong}` was accepted");
    }
    for right in [
        "softkey vault init --key-file ~/.config/softkey/vault.key",
        "softkey vault",
        "softkey client pin …",
        "softkey sim --control …",
        "softkey sim --control 127.0.0.1:8120 --control-token-file /tmp/softkey.token &",
        "softkey sim --control --transport uhid",
    ] {
        assert_eq!(check(right), Ok(()), "`{right}` was refused");
    }
}

#[test]
fn suggestion_collector_reads_markdown_code_and_unit_files() {
    let markdown = "Run `softkey doctor`.\n```sh\nsudo softkey run --ephemeral  # note\n\
                    cargo run -p softkey -- sim\nmake && softkey vault list | head\n```\n\
                    softkey in prose is no command\n";
    let found: Vec<_> = mentions_in(Path::new("x.md"), markdown)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(
        found,
        [
            "softkey doctor",
            "softkey run --ephemeral",
            "softkey sim",
            "softkey vault list"
        ]
    );
    let diagram = "```text\n  softkey on /dev/uhid ◄── hidraw\n```\n";
    assert!(mentions_in(Path::new("x.md"), diagram).is_empty());
    assert_eq!(
        backtick_mentions("`softkey vault init | info | list |` and `softkey vault list | grep x`"),
        [
            "softkey vault init",
            "softkey vault info",
            "softkey vault list",
            "softkey vault list"
        ]
    );
    let unit = "ExecStart=%h/.cargo/bin/softkey run --key-file %h/k\nExecStart=/bin/true\n";
    let found: Vec<_> = mentions_in(Path::new("softkey.service"), unit)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(found, ["softkey run --key-file %h/k"]);
}
