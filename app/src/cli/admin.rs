//! `depot admin`: accounts and tokens, straight against the database.

use clap::Subcommand;

use super::serve::open_store;
use super::{CliError, CliResult};
use crate::auth::{Scope, mint_token};
use crate::config::Config;
use crate::domain::Namespace;
use crate::store::{NewAccount, NewToken, PackageRef};

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a publisher account.
    CreateAccount {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Create a token for an account and print it (only the token, on stdout).
    CreateToken {
        #[arg(long)]
        username: String,
        /// Scope to grant (repeatable): package-upload, package-release, package-manage,
        /// account-register-package, admin. Default: all but admin.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Restrict the token to a package (repeatable), as NAME (a snap) or charm:NAME.
        #[arg(long = "package", value_name = "[snap:|charm:]NAME")]
        packages: Vec<String>,
        /// Lifetime, e.g. 3600, 90m, 12h, 30d. Default: no expiry.
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Bulk-load package metadata from a catalog file (JSON lines, optionally gzipped, in the
    /// shape of apps.jsonl or packages.jsonl) as released snaps, through the normal write
    /// path. Packages that already exist are skipped, so a re-run resumes.
    Import {
        /// The catalog file (`.jsonl` or `.jsonl.gz`).
        file: std::path::PathBuf,
        /// Account that publishes the imported snaps (created if missing).
        #[arg(long, default_value = "imported")]
        publisher: String,
        /// Packages written per transaction.
        #[arg(long, default_value_t = crate::catalog::import::DEFAULT_BATCH)]
        batch: usize,
    },
    /// Print the signing authority's `account` and `account-key` assertions (a stream in
    /// snapd's format, on stdout), for devices or proxies to trust (`snap ack`). Generates the
    /// keys on first use, like `serve`.
    ExportTrust,
}

/// The longest lifetime `--ttl` gives a token: ten years (a token that should outlive that
/// is one without `--ttl`).
const MAX_TTL_SECS: i64 = 3650 * 86400;

/// Parses `90`, `90s`, `15m`, `12h`, `30d` into seconds, from 1 s to [`MAX_TTL_SECS`].
pub fn parse_ttl(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let invalid = || {
        format!(
            "invalid ttl {s:?}: use a whole number with an optional unit s (the default), m, h or d, e.g. 3600, 90m, 12h or 30d"
        )
    };
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(invalid()),
    };
    let too_long = || {
        format!(
            "invalid ttl {s:?}: the longest is 3650d (ten years); leave --ttl out for a token that does not expire"
        )
    };
    let n: i64 = match number.parse() {
        Ok(n) => n,
        // All digits, but more than an i64 holds.
        Err(_) if !number.is_empty() => return Err(too_long()),
        Err(_) => return Err(invalid()),
    };
    if n <= 0 {
        return Err(format!("invalid ttl {s:?}: it must be at least 1s"));
    }
    match n.checked_mul(factor) {
        Some(secs) if secs <= MAX_TTL_SECS => Ok(secs),
        _ => Err(too_long()),
    }
}

/// What can be told wrong about the arguments before the database is opened.
fn check_arguments(command: &AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::Import {
            publisher, batch, ..
        } => {
            check_username(publisher)?;
            if !(1..=100_000).contains(batch) {
                return Err(CliError(format!(
                    "invalid --batch {batch}: packages per transaction, from 1 to 100000"
                )));
            }
        }
        AdminCommand::CreateAccount {
            username,
            display_name,
            email,
        } => {
            check_username(username)?;
            if let Some(d) = display_name
                && (d.trim().chars().count() > 100 || d.contains(char::is_control))
            {
                return Err(CliError(
                    "invalid --display-name: at most 100 characters, without control characters"
                        .to_string(),
                ));
            }
            if let Some(email) = email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                check_email(email).map_err(CliError)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Usernames follow the package name rules (lowercase letters, digits, hyphens).
fn check_username(username: &str) -> Result<(), CliError> {
    crate::domain::PackageName::parse(username)
        .map(|_| ())
        .map_err(|e| CliError(format!("invalid username: {e}")))
}

/// An address of the form `local@domain`: no spaces or control characters, at most 254
/// characters (what a mail system can deliver to, not a full RFC 5322 parse).
fn check_email(email: &str) -> Result<(), String> {
    let valid = email.len() <= 254
        && !email.contains(|c: char| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid --email {email:?}: give an address such as alice@example.com"
        ))
    }
}

fn parse_package(s: &str) -> Result<PackageRef, String> {
    let (namespace, name) = match s.split_once(':') {
        Some((ns, name)) => (ns.parse::<Namespace>().map_err(|e| e.to_string())?, name),
        None => (Namespace::Snap, s),
    };
    crate::domain::PackageName::parse(name).map_err(|e| e.to_string())?;
    Ok(PackageRef {
        namespace,
        name: name.to_string(),
    })
}

pub async fn run(config: Config, command: AdminCommand) -> CliResult {
    if let AdminCommand::ExportTrust = command {
        // Keys only: no database needed.
        let assertions = super::serve::load_assertions(&config).await?;
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&assertions.trust_stream())?;
        stdout.flush()?;
        return Ok(());
    }
    check_arguments(&command)?;
    let store = open_store(&config).await?;
    if config.migrate_on_start {
        store.migrate().await?;
    }
    match command {
        AdminCommand::Import {
            file,
            publisher,
            batch,
        } => {
            let records = crate::search::eval::read_catalog(&file).map_err(CliError)?;
            let blobs = super::serve::open_blobs(&config).await?;
            let started = std::time::Instant::now();
            let total = records.len();
            let mut reported = std::time::Instant::now();
            let summary = crate::catalog::import::import(
                store,
                blobs.as_ref(),
                records,
                &publisher,
                batch,
                |s| {
                    if reported.elapsed().as_secs() >= 5 {
                        reported = std::time::Instant::now();
                        eprintln!("{} of {total} packages done", s.imported + s.existing);
                    }
                },
            )
            .await
            .map_err(CliError)?;
            eprintln!(
                "imported {} of {total} packages in {:.1} s ({} already there, {} renamed to valid \
                 snap names, {} skipped for names that cannot be one)",
                summary.imported,
                started.elapsed().as_secs_f64(),
                summary.existing,
                summary.renamed,
                summary.invalid.len()
            );
        }
        AdminCommand::CreateAccount {
            username,
            display_name,
            email,
        } => {
            let display_name = display_name
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| username.clone());
            let email = email
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty());
            let (account, _) = store
                .create_account(NewAccount {
                    display_name,
                    username,
                    email,
                })
                .await?;
            println!("{}", account.id);
            eprintln!("created account {} ({})", account.username, account.id);
        }
        AdminCommand::CreateToken {
            username,
            scopes,
            packages,
            ttl,
            description,
        } => {
            let account = store.account_by_username(&username).await?.ok_or_else(|| {
                CliError(format!(
                    "no account named {username:?}; create it with `depot admin create-account`"
                ))
            })?;
            let scopes: Vec<Scope> = if scopes.is_empty() {
                Scope::PUBLISHER.to_vec()
            } else {
                scopes
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()
                    .map_err(CliError)?
            };
            let packages = if packages.is_empty() {
                None
            } else {
                Some(
                    packages
                        .iter()
                        .map(|p| parse_package(p))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(CliError)?,
                )
            };
            let expires_at = match ttl {
                Some(ttl) => Some(
                    chrono::Utc::now()
                        + chrono::Duration::seconds(parse_ttl(&ttl).map_err(CliError)?),
                ),
                None => None,
            };
            let minted = mint_token();
            store
                .create_token(NewToken {
                    account_id: account.id,
                    secret_hash: minted.hash,
                    scopes,
                    packages,
                    description,
                    expires_at,
                })
                .await?;
            println!("{}", minted.secret);
        }
        AdminCommand::ExportTrust => unreachable!("answered before the database is opened"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("alice@localhost").is_ok());
        for bad in [
            "not-an-email",
            "a@",
            "@example.com",
            "a b@example.com",
            "a@@example.com",
            "a@example.",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("90m"), Ok(5400));
        assert_eq!(parse_ttl("30d"), Ok(30 * 86400));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("abc").is_err());
        assert!(parse_ttl("1.5h").unwrap_err().contains("whole number"));
        assert_eq!(parse_ttl("3650d"), Ok(3650 * 86400));
        for long in [
            "3651d",
            "100000000d",
            "99999999999999d",
            "9223372036854775807",
            "99999999999999999999",
        ] {
            assert!(parse_ttl(long).unwrap_err().contains("ten years"), "{long}");
        }
    }
}
