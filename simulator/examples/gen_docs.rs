//! Generates softkey's man pages and shell completions from its clap
//! definition ([`softkey::cli`]), for the Debian package
//! (`packaging/build-deb.sh`):
//!
//! ```text
//! cargo run -p softkey --example gen_docs -- OUT_DIR
//!   OUT_DIR/man/softkey.1, softkey-run.1, softkey-vault-init.1, …  (one per command)
//!   OUT_DIR/completions/softkey.bash, _softkey (zsh), softkey.fish
//! ```
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap_complete::Shell;

/// Writes one man page for `command` (titled `name`) and one for each of
/// its subcommands (`name-sub`), returning how many.
fn man_pages(command: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let command = command.clone().display_name(name.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("rendering the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    let mut written = 1;
    // clap's generated `help` subcommands get no page of their own.
    for sub in command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
    {
        written += man_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(written)
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .context("usage: gen_docs OUT_DIR")?,
    );
    let mut command = softkey::cli::command();
    command.build();
    let man = out.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    let pages = man_pages(&command, "softkey", &man)?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("creating {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut command, "softkey", &completions)
            .with_context(|| format!("writing the {shell} completions"))?;
        println!("{}", path.display());
    }
    println!("{pages} man pages in {}", man.display());
    Ok(())
}
