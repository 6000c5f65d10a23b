//! The `rescue-wizard` command: parse the command line, hand it to the library, map the outcome
//! to an exit code (the table is `cli::EXIT_CODES`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rescue_wizard::cli::Cli::parse();
    match rescue_wizard::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {}", rescue_wizard::error_text(&err));
            rescue_wizard::exit_code_for(&err).into()
        }
    }
}
