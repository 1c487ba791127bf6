//! The `depot` command line: the server (`serve`, `migrate`), configuration, administration
//! (`admin`), and the publisher client (`login`, `push`, `release`, `status` …, see
//! [`client`]). Only the server commands load the server configuration.

mod admin;
pub mod client;
mod eval;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Config;

/// The end of `depot --help`: exit codes of both kinds of command.
const TOP_LEVEL_HELP: &str = concat!(
    "Exit codes of the server commands (serve, migrate, config, admin, eval):
  0  success
  1  the command failed (database unreachable, account exists, invalid argument value)
  2  the configuration is invalid, or the command line does not parse

Exit codes of the client commands (login, push, release, status, ...):
",
    client::client_exit_codes!(),
    "
Environment:
  DEPOT_CONFIG  server configuration file (server commands)
  DEPOT_STORE   store URL, overrides the credentials file (client commands)
  DEPOT_TOKEN   token, overrides the credentials file (client commands)
  Server settings: DEPOT_<KEY>, see docs/reference/configuration.md"
);

#[derive(Parser, Debug)]
#[command(
    name = "depot",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("DEPOT_COMMIT"), ")"),
    about = "A self-hostable store for snaps and charms",
    after_long_help = TOP_LEVEL_HELP
)]
pub struct Cli {
    /// Server configuration file (default: ./depot.toml if it exists). Client commands
    /// ignore it.
    #[arg(long, global = true, env = "DEPOT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the store server.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Administration: accounts and tokens.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Offline evaluation (search quality against judgments).
    Eval {
        #[command(subcommand)]
        command: eval::EvalCommand,
    },
    #[command(flatten)]
    Client(client::ClientCommand),
    /// Print a shell completion script, e.g. `depot completions bash > /etc/bash_completion.d/depot`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `depot man | man -l -`.
    Man,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < file < DEPOT_* environment), secrets redacted.
    Show,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Client(command) => client::run(command),
        Command::Eval { command } => eval::run(command),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "depot", &mut out);
            print_bytes(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => print_bytes(&out),
                Err(err) => {
                    eprintln!("error: cannot render the man page: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        command => run_server(cli.config.as_deref(), command),
    }
}

fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
    ExitCode::SUCCESS
}

/// The server commands: they load the configuration (defaults < file < `DEPOT_*`).
fn run_server(config_file: Option<&std::path::Path>, command: Command) -> ExitCode {
    let config = match Config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Command::Config {
        command: ConfigCommand::Show,
    } = command
    {
        print!("{}", config.to_redacted_toml());
        return ExitCode::SUCCESS;
    }
    // Before the log writer's thread starts: no other thread may be inside SQLite.
    let sqlite_configured = crate::store::configure_sqlite();
    // Dropped last: the log lines of the shutdown are written too.
    let _logs = crate::telemetry::init(config.log_format);
    if !sqlite_configured {
        tracing::warn!(
            "SQLite had started before depot configured it: its memory statistics stay on"
        );
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve::serve(config).await,
            Command::Migrate => serve::migrate(config).await,
            Command::Admin { command } => admin::run(config, command).await,
            Command::Config { .. }
            | Command::Client(_)
            | Command::Eval { .. }
            | Command::Completions { .. }
            | Command::Man => unreachable!("handled by run"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Errors of CLI commands: a message for the user.
pub type CliResult = Result<(), CliError>;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<crate::store::StoreError> for CliError {
    fn from(err: crate::store::StoreError) -> Self {
        CliError(err.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError(err.to_string())
    }
}
