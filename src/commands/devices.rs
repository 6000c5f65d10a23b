//! `rescue-wizard devices`: list, search, show and check profiles.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{DevicesArgs, DevicesCommand};
use crate::profile::render;
use crate::profile::{Catalogue, Origin, read_profile_file, user_dir};
use crate::{Outcome, UsageError};

/// Runs `rescue-wizard devices ...` against the real user profile folder and the terminal.
pub fn run(args: &DevicesArgs) -> anyhow::Result<Outcome> {
    let dir = user_dir();
    run_with(
        args,
        dir.as_deref(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )
}

/// Runs `rescue-wizard devices ...` with user profiles from `dir`, writing results to `out` and
/// warnings and problems to `err`.
pub fn run_with(
    args: &DevicesArgs,
    dir: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    match &args.command {
        Some(DevicesCommand::Check { files }) => check(files, out, err),
        Some(DevicesCommand::Show { id }) => {
            let catalogue = load(dir, err)?;
            let entry = catalogue.lookup(id).map_err(UsageError::from_source)?;
            out.write_all(render::show(entry).as_bytes())?;
            Ok(Outcome::Done)
        }
        None if args.query.is_empty() => {
            let catalogue = load(dir, err)?;
            let entries: Vec<_> = catalogue.entries().collect();
            out.write_all(render::table(&entries).as_bytes())?;
            footer(&entries, dir, out)?;
            Ok(Outcome::Done)
        }
        None => {
            let catalogue = load(dir, err)?;
            let query = args.query.join(" ");
            let hits = catalogue.search(&query);
            if hits.is_empty() {
                writeln!(out, "No device matches `{query}`.")?;
                let nearest = catalogue.suggest(&query);
                if !nearest.is_empty() {
                    writeln!(out, "Nearest ids: {}", nearest.join(", "))?;
                }
                writeln!(out, "`rescue-wizard devices` lists every device.")?;
                // Nearest ids are a suggestion, not an answer: a script must not take the
                // first of them for the device it asked about.
                return Ok(Outcome::BadInput);
            }
            out.write_all(render::table(&hits).as_bytes())?;
            footer(&hits, dir, out)?;
            let unknown = catalogue.unknown_words(&query);
            if !unknown.is_empty() {
                writeln!(
                    out,
                    "No device has `{}` in its name: the search went without it.",
                    unknown.join("`, `")
                )?;
            }
            Ok(Outcome::Done)
        }
    }
}

fn load(dir: Option<&Path>, err: &mut dyn Write) -> anyhow::Result<Catalogue> {
    let (catalogue, problems) = Catalogue::load(dir)?;
    for problem in problems {
        writeln!(err, "warning: skipped a user profile:\n{problem}")?;
    }
    Ok(catalogue)
}

fn footer(
    entries: &[&crate::profile::Entry],
    dir: Option<&Path>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let noun = if entries.len() == 1 {
        "device"
    } else {
        "devices"
    };
    writeln!(
        out,
        "\n{} {noun}. `rescue-wizard devices show ID` prints the procedure.",
        entries.len()
    )?;
    if entries
        .iter()
        .any(|entry| !matches!(entry.origin, Origin::BuiltIn(_)))
    {
        let place = dir.map_or_else(|| "the user folder".to_owned(), |d| d.display().to_string());
        writeln!(out, "* from {place}")?;
    }
    Ok(())
}

fn check(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let builtin = Catalogue::builtin()?;
    let mut invalid = 0usize;
    for path in files {
        match read_profile_file(path) {
            Ok(profile) => {
                write!(out, "ok: {} ({})", path.display(), profile.id)?;
                if builtin.get(&profile.id).is_ok() {
                    write!(out, ", replaces the built-in profile `{}`", profile.id)?;
                }
                writeln!(out)?;
            }
            Err(problem) => {
                invalid += 1;
                writeln!(err, "{problem}")?;
            }
        }
    }
    if invalid == 0 {
        Ok(Outcome::Done)
    } else {
        writeln!(
            err,
            "{invalid} of {} profile file{} invalid",
            files.len(),
            if files.len() == 1 { " is" } else { "s are" }
        )?;
        Ok(Outcome::BadInput)
    }
}
