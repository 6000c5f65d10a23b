//! The `rescue-wizard` command: parse the command line, hand it to the library, map the outcome
//! to an exit code (0 done, 1 transfer failed, 2 bad usage or input, 3 nothing happened,
//! 130 stopped by the technician).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rescue_wizard::cli::Cli::parse();
    match rescue_wizard::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            rescue_wizard::exit_code_for(&err).into()
        }
    }
}
