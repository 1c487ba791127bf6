//! The publisher client: `depot login`, `push`, `release`, `status` … against a store's HTTP
//! API. These commands never read the server configuration nor open a database; they know a
//! store URL and a token (credentials file, or `DEPOT_STORE` / `DEPOT_TOKEN`).

pub mod api;
pub mod credentials;
mod push;
pub mod status;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use self::api::{Api, Auth, ClientError, ErrorKind, display_url, parse_store_url};
use self::credentials::Credentials;
use crate::domain::Namespace;

/// The client commands' exit codes, one per line: in each client command's `--help` and in
/// `depot --help`.
macro_rules! client_exit_codes {
    () => {
        "  0  success
  1  the store answered with an error (4xx, 5xx)
  2  usage or configuration error (bad arguments, unreadable file, broken credentials file)
  3  not logged in, or the store refused the token (401)
  4  not found: the store does not know the package (404)
  5  the store is unreachable (connection refused, DNS, TLS, timeout)
"
    };
}
pub(crate) use client_exit_codes;

/// Exit codes, shown in `--help`.
pub const EXIT_CODES: &str = concat!(
    "Exit codes:\n",
    client_exit_codes!(),
    "
Environment:
  DEPOT_STORE  store URL, overrides the credentials file
  DEPOT_TOKEN  token, overrides the credentials file
  Credentials: $XDG_CONFIG_HOME/depot/credentials.json (or ~/.config/depot/credentials.json)"
);

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Log in to a store: check a token and save it with the store's URL (mode 0600).
    ///
    /// The token comes from --token-file, else from standard input when it is not a terminal,
    /// else from a prompt. It is checked with the store before it is saved.
    #[command(after_long_help = EXIT_CODES)]
    Login {
        /// The store's URL, e.g. https://store.example.com.
        #[arg(long, value_name = "URL", env = "DEPOT_STORE")]
        store: Option<String>,
        /// Read the token from this file.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Forget the saved store and token.
    #[command(after_long_help = EXIT_CODES)]
    Logout,
    /// Show the account and permissions of the token.
    #[command(after_long_help = EXIT_CODES)]
    Whoami {
        #[command(flatten)]
        format: FormatArg,
    },
    /// Register a package name for your account.
    #[command(after_long_help = EXIT_CODES)]
    Register {
        name: String,
        /// What the name is for.
        #[arg(long = "type", value_enum, default_value_t = PackageType::Snap)]
        kind: PackageType,
        /// Make the package private: only you can see it.
        #[arg(long)]
        private: bool,
    },
    /// List the names registered to your account.
    #[command(after_long_help = EXIT_CODES)]
    Names {
        /// Only snaps or only charms.
        #[arg(long = "type", value_enum)]
        kind: Option<PackageType>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Upload a snap or charm as a new revision of the package it names, and optionally
    /// release it.
    ///
    /// The type (snap or charm) and the package name are read from the file itself. The upload
    /// streams from disk with a progress bar (hidden when standard output is not a terminal);
    /// depot waits for the store's review and prints the new revision number.
    #[command(after_long_help = EXIT_CODES)]
    Push {
        /// The .snap or .charm file.
        file: PathBuf,
        /// Release the new revision to these channels.
        #[arg(long, value_name = "CHANNEL[,CHANNEL…]", value_delimiter = ',')]
        release: Vec<String>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Release a revision to one or more channels.
    #[command(after_long_help = EXIT_CODES)]
    Release {
        name: String,
        revision: u32,
        /// Channels such as edge, latest/beta, 2.0/candidate or stable/fix-1 (a branch).
        #[arg(
            value_name = "CHANNEL[,CHANNEL…]",
            required = true,
            num_args = 1..,
            value_delimiter = ','
        )]
        channels: Vec<String>,
        #[command(flatten)]
        kind: TypeArg,
    },
    /// Close channels: devices on them follow the next more stable risk.
    #[command(after_long_help = EXIT_CODES)]
    Close {
        name: String,
        #[arg(
            value_name = "CHANNEL",
            required = true,
            num_args = 1..,
            value_delimiter = ','
        )]
        channels: Vec<String>,
        #[command(flatten)]
        kind: TypeArg,
    },
    /// Create tracks of a package (`2.0`, then release to `2.0/stable`); tracks that exist
    /// already are left as they are. Needs a token with `package-manage`.
    #[command(name = "create-track", after_long_help = EXIT_CODES)]
    CreateTrack {
        name: String,
        /// Track names: 1 to 28 letters, digits and `.`, `_`, `-` between them.
        #[arg(
            value_name = "TRACK",
            required = true,
            num_args = 1..,
            value_delimiter = ','
        )]
        tracks: Vec<String>,
        #[command(flatten)]
        kind: TypeArg,
    },
    /// Show the channel map of a package.
    ///
    /// One block per track and architecture (snaps) or base (charms) with the risks stable,
    /// candidate, beta and edge: `↑` where a risk follows a more stable one, `–` where
    /// nothing is open; branches follow their risk with their expiry.
    #[command(after_long_help = EXIT_CODES)]
    Status {
        name: String,
        #[command(flatten)]
        kind: TypeArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// List the revisions of a package, newest first.
    #[command(after_long_help = EXIT_CODES)]
    Revisions {
        name: String,
        #[command(flatten)]
        kind: TypeArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Register a charm library under a charm you own and print the module header to start it
    /// with (`LIBID`, `LIBAPI`, `LIBPATCH`); publish it with `charmcraft publish-lib`.
    #[command(name = "create-lib", after_long_help = EXIT_CODES)]
    CreateLib {
        /// The charm the library belongs to.
        charm: String,
        /// The library's module name (lowercase letters, digits, underscores), e.g. `client`.
        library: String,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Show what the store tells devices about a package (public; no login needed).
    #[command(after_long_help = EXIT_CODES)]
    Info {
        name: String,
        #[command(flatten)]
        kind: TypeArg,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PackageType {
    Snap,
    Charm,
}

impl From<PackageType> for Namespace {
    fn from(kind: PackageType) -> Namespace {
        match kind {
            PackageType::Snap => Namespace::Snap,
            PackageType::Charm => Namespace::Charm,
        }
    }
}

#[derive(Args, Debug, Clone, Copy)]
pub struct TypeArg {
    /// Whether NAME is a snap or a charm (default: whichever is registered).
    #[arg(long = "type", value_enum)]
    pub kind: Option<PackageType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// The store's JSON answer, pretty-printed (for scripts).
    Json,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs a client command; prints errors as `error: …` / `hint: …` and returns the exit code.
pub fn run(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err} (runtime-error)");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprint!("{}", status::printable(&err.render()));
            ExitCode::from(err.exit_code())
        }
    }
}

/// Writes to stdout, what the store said made [`status::printable`]; a closed pipe
/// (`depot names | head -1`) is not an error.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let text = status::printable(text);
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn emit_json(value: &Value) {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    emit(&text);
}

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The store and token in effect: `DEPOT_STORE` / `DEPOT_TOKEN`, else the credentials file.
/// The saved token is only used with the store it was saved for.
fn connect(auth: Auth) -> Result<Api, ClientError> {
    let env_store = non_empty_env("DEPOT_STORE");
    let env_token = non_empty_env("DEPOT_TOKEN");
    let (saved, saved_at) = if env_store.is_some() && env_token.is_some() {
        (None, None)
    } else {
        let path = credentials::path()?;
        (credentials::load(&path)?, Some(path))
    };
    let store = match (&env_store, &saved) {
        (Some(store), _) => parse_store_url(store)
            .map_err(|e| e.with_hint("DEPOT_STORE must be the store's base URL"))?,
        (None, Some(saved)) => parse_store_url(&saved.store).map_err(|e| {
            let file = saved_at
                .as_deref()
                .map_or_else(String::new, |p| format!(" in {}", p.display()));
            e.with_hint(format!(
                "the store URL saved{file} is not valid: run `depot login --store URL` again, or set DEPOT_STORE"
            ))
        })?,
        (None, None) => return Err(api::not_logged_in()),
    };
    let token = env_token.or_else(|| {
        saved
            .filter(|s| {
                parse_store_url(&s.store)
                    .map(|u| display_url(&u) == display_url(&store))
                    .unwrap_or(false)
            })
            .map(|s| s.token)
    });
    if auth == Auth::Required && token.is_none() {
        return Err(api::not_logged_in());
    }
    Api::new(store, token)
}

async fn execute(command: ClientCommand) -> Result<(), ClientError> {
    match command {
        ClientCommand::Login { store, token_file } => login(store, token_file).await,
        ClientCommand::Logout => logout(),
        ClientCommand::Whoami { format } => whoami(format.format).await,
        ClientCommand::Register {
            name,
            kind,
            private,
        } => register(&name, kind.into(), private).await,
        ClientCommand::Names { kind, format } => names(kind.map(Into::into), format.format).await,
        ClientCommand::Push {
            file,
            release,
            format,
        } => push::push(connect(Auth::Required)?, &file, &release, format.format).await,
        ClientCommand::Release {
            name,
            revision,
            channels,
            kind,
        } => release(&name, Some(revision), &channels, kind).await,
        ClientCommand::Close {
            name,
            channels,
            kind,
        } => release(&name, None, &channels, kind).await,
        ClientCommand::CreateTrack { name, tracks, kind } => {
            create_tracks(&name, &tracks, kind).await
        }
        ClientCommand::Status { name, kind, format } => status(&name, kind, format.format).await,
        ClientCommand::Revisions { name, kind, format } => {
            revisions(&name, kind, format.format).await
        }
        ClientCommand::Info { name, kind, format } => info(&name, kind, format.format).await,
        ClientCommand::CreateLib {
            charm,
            library,
            format,
        } => create_lib(&charm, &library, format.format).await,
    }
}

fn read_token(token_file: Option<PathBuf>, store: &str) -> Result<String, ClientError> {
    let token = match token_file {
        Some(path) => std::fs::read_to_string(&path).map_err(|e| {
            ClientError::usage(
                "token-file-unreadable",
                format!("cannot read the token file {}: {e}", path.display()),
            )
        })?,
        None if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .map_err(|e| {
                    ClientError::usage(
                        "token-unreadable",
                        format!("cannot read the token from standard input: {e}"),
                    )
                })?;
            text
        }
        None => {
            eprint!("Token for {store}: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| {
                ClientError::usage("token-unreadable", format!("cannot read the token: {e}"))
            })?;
            line
        }
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(
            ClientError::usage("no-token", "no token was given").with_hint(
                "pass --token-file FILE or pipe the token in; an administrator creates one with \
             `depot admin create-token`",
            ),
        );
    }
    if token.contains(char::is_whitespace) {
        return Err(ClientError::usage(
            "invalid-token-format",
            "the token contains whitespace; give only the token",
        ));
    }
    Ok(token)
}

async fn login(store: Option<String>, token_file: Option<PathBuf>) -> Result<(), ClientError> {
    let raw = store.ok_or_else(|| {
        ClientError::usage("no-store", "depot login needs the store's URL")
            .with_hint("run `depot login --store https://store.example.com`")
    })?;
    let url = parse_store_url(&raw)?;
    let store = display_url(&url);
    let path = credentials::path()?;
    let token = read_token(token_file, &store)?;
    let api = Api::new(url, Some(token.clone()))?;
    let me = api.whoami().await?;
    credentials::save(
        &path,
        &Credentials {
            store: store.clone(),
            token,
        },
    )?;
    let username = me
        .pointer("/account/username")
        .and_then(Value::as_str)
        .unwrap_or("?");
    emit(&format!("Logged in to {store} as {username}.\n"));
    Ok(())
}

fn logout() -> Result<(), ClientError> {
    let path = credentials::path()?;
    let saved = credentials::load(&path).ok().flatten();
    if credentials::remove(&path)? {
        match saved {
            Some(saved) => emit(&format!("Logged out of {}.\n", saved.store)),
            None => emit("Logged out.\n"),
        }
    } else {
        emit("Not logged in.\n");
    }
    Ok(())
}

async fn whoami(format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    let me = api.whoami().await?;
    if format == Format::Json {
        emit_json(&me);
        return Ok(());
    }
    let text = |pointer: &str| {
        me.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let list = |key: &str| -> Vec<String> {
        me.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let packages = match me.get("packages").and_then(Value::as_array) {
        None => "all of the account's".to_string(),
        Some(list) => list
            .iter()
            .map(|p| {
                format!(
                    "{}:{}",
                    p.get("type").and_then(Value::as_str).unwrap_or("?"),
                    p.get("name").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    let expires = me
        .get("expires")
        .and_then(Value::as_str)
        .map(status::short_time)
        .unwrap_or_else(|| "never".to_string());
    let rows = [
        ("store", api.store()),
        ("username", text("/account/username")),
        ("display-name", text("/account/display-name")),
        ("id", text("/account/id")),
        ("scopes", list("scopes").join(", ")),
        ("packages", packages),
        ("expires", expires),
    ];
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("{:<14}{value}\n", format!("{label}:")));
    }
    emit(&out);
    Ok(())
}

async fn register(name: &str, namespace: Namespace, private: bool) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    api.register(namespace, name, private).await?;
    emit(&format!(
        "Registered the {namespace} {name}{}.\n",
        if private { " (private)" } else { "" }
    ));
    Ok(())
}

async fn create_lib(charm: &str, library: &str, format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    let answer = api
        .post(
            &["v1", "charm", "libraries", charm],
            &json!({"library-name": library}),
        )
        .await?;
    if format == Format::Json {
        emit_json(&answer);
        return Ok(());
    }
    let id = answer
        .get("library-id")
        .and_then(Value::as_str)
        .ok_or_else(|| api::bad_response("the store's answer has no library-id"))?;
    emit(&format!(
        "Created library {library} of charm {charm} with id {id}.\n\
         Start lib/charms/{module}/v0/{library}.py with:\n\n\
         LIBID = \"{id}\"\nLIBAPI = 0\nLIBPATCH = 1\n\n\
         and publish it with `charmcraft publish-lib charms.{module}.v0.{library}`.\n",
        module = charm.replace('-', "_"),
    ));
    Ok(())
}

async fn names(kind: Option<Namespace>, format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    let namespaces: Vec<Namespace> = match kind {
        Some(ns) => vec![ns],
        None => Namespace::ALL.to_vec(),
    };
    let mut results = Vec::new();
    for namespace in namespaces {
        let answer = api.names(namespace).await?;
        results.extend(
            answer
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
    }
    if format == Format::Json {
        emit_json(&json!({"results": results}));
        return Ok(());
    }
    if results.is_empty() {
        emit("No names are registered to this account.\n");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let text = |key: &str| r.get(key).and_then(Value::as_str).unwrap_or("").to_string();
            let private = r.get("private").and_then(Value::as_bool).unwrap_or(false);
            vec![
                text("name"),
                text("type"),
                text("status"),
                if private { "private" } else { "public" }.to_string(),
            ]
        })
        .collect();
    emit(&status::table(
        &["Name", "Type", "Status", "Visibility"],
        &rows,
    ));
    Ok(())
}

/// Which namespace `name` is registered in: `--type` if given, else whichever of snap and
/// charm the store knows (asking both).
async fn registered_namespace(
    api: &Api,
    name: &str,
    kind: TypeArg,
) -> Result<Namespace, ClientError> {
    if let Some(kind) = kind.kind {
        return Ok(kind.into());
    }
    let (snap, charm) = tokio::join!(
        api.package(Namespace::Snap, name),
        api.package(Namespace::Charm, name)
    );
    pick_namespace(name, snap.map(|_| ()), charm.map(|_| ()), "is registered")
}

/// Which namespace a public lookup found `name` in, with its answer.
async fn public_namespace(
    api: &Api,
    name: &str,
    kind: TypeArg,
) -> Result<(Namespace, Value), ClientError> {
    if let Some(kind) = kind.kind {
        let namespace = kind.into();
        return Ok((namespace, api.info(namespace, name).await?));
    }
    let (snap, charm) = tokio::join!(
        api.info(Namespace::Snap, name),
        api.info(Namespace::Charm, name)
    );
    let namespace = pick_namespace(
        name,
        snap.as_ref().map(|_| ()).map_err(Clone::clone),
        charm.as_ref().map(|_| ()).map_err(Clone::clone),
        "is published",
    )?;
    let answer = match namespace {
        Namespace::Snap => snap?,
        Namespace::Charm => charm?,
    };
    Ok((namespace, answer))
}

fn pick_namespace(
    name: &str,
    snap: Result<(), ClientError>,
    charm: Result<(), ClientError>,
    what: &str,
) -> Result<Namespace, ClientError> {
    let missing =
        |r: &Result<(), ClientError>| matches!(r, Err(e) if e.kind == ErrorKind::NotFound);
    match (&snap, &charm) {
        (Ok(()), Ok(())) => Err(ClientError::usage(
            "ambiguous-name",
            format!("{name} {what} both as a snap and as a charm"),
        )
        .with_hint("pass --type snap or --type charm")),
        (Ok(()), c) if missing(c) => Ok(Namespace::Snap),
        (s, Ok(())) if missing(s) => Ok(Namespace::Charm),
        (s, c) if missing(s) && missing(c) => Err(ClientError::new(
            ErrorKind::NotFound,
            "package-not-found",
            format!("no snap or charm named {name:?} {what} in this store"),
        )
        .with_hint(if what == "is published" {
            "a package is public once a revision of it is released to a channel; your own names are in `depot names`"
        } else {
            "check the name with `depot names`, or register it with `depot register NAME [--type charm]`"
        })),
        (Err(e), _) if !missing(&snap) => Err(e.clone()),
        (_, Err(e)) => Err(e.clone()),
        _ => unreachable!("all combinations are handled above"),
    }
}

async fn release(
    name: &str,
    revision: Option<u32>,
    channels: &[String],
    kind: TypeArg,
) -> Result<(), ClientError> {
    let channels = distinct(channels);
    if channels.is_empty() {
        return Err(ClientError::usage(
            "no-channel",
            "name at least one channel",
        ));
    }
    let api = connect(Auth::Required)?;
    let namespace = registered_namespace(&api, name, kind).await?;
    let answer = api.release(namespace, name, &channels, revision).await?;
    emit(&release_lines(name, &answer));
    Ok(())
}

/// Command-line values trimmed, empty ones dropped, each once in the order given
/// (`stable,stable` is one release).
fn distinct(values: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && seen.insert(v.clone()))
        .collect()
}

async fn create_tracks(name: &str, tracks: &[String], kind: TypeArg) -> Result<(), ClientError> {
    let tracks = distinct(tracks);
    if tracks.is_empty() {
        return Err(ClientError::usage("no-track", "name at least one track"));
    }
    let api = connect(Auth::Required)?;
    let namespace = registered_namespace(&api, name, kind).await?;
    let answer = api.create_tracks(namespace, name, &tracks).await?;
    let created = answer
        .get("num-tracks-created")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let listed = tracks.join(", ");
    emit(&match created {
        0 => format!("{name} already has the tracks {listed}; nothing changed.\n"),
        n if n as usize == tracks.len() => format!("Created the tracks {listed} of {name}.\n"),
        n => format!("Created {n} of the tracks {listed} of {name}; the others existed already.\n"),
    });
    Ok(())
}

/// One line per channel of a release answer.
fn release_lines(name: &str, answer: &Value) -> String {
    let mut out = String::new();
    for item in answer
        .get("released")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let channel = item.get("channel").and_then(Value::as_str).unwrap_or("?");
        match item.get("revision").and_then(Value::as_u64) {
            Some(revision) => {
                out.push_str(&format!("Released {name} revision {revision} to {channel}"));
                if let Some(expires) = item.get("expiration-date").and_then(Value::as_str) {
                    out.push_str(&format!(" (until {})", status::short_time(expires)));
                }
                out.push_str(".\n");
            }
            None => out.push_str(&format!("Closed {channel} of {name}.\n")),
        }
    }
    out
}

async fn status(name: &str, kind: TypeArg, format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    let namespace = registered_namespace(&api, name, kind).await?;
    let answer = api.releases(namespace, name).await?;
    if format == Format::Json {
        emit_json(&answer);
        return Ok(());
    }
    let map = status::channel_map_from_releases(namespace, &answer).map_err(|e| {
        ClientError::new(
            ErrorKind::Store,
            "invalid-response",
            format!("the store's channel map is not understood: {e}"),
        )
    })?;
    match status::render_status(&map) {
        Some(table) => emit(&table),
        None => emit(&format!("{name} has no released revisions.\n")),
    }
    Ok(())
}

async fn revisions(name: &str, kind: TypeArg, format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::Required)?;
    let namespace = registered_namespace(&api, name, kind).await?;
    let answer = api.revisions(namespace, name).await?;
    if format == Format::Json {
        emit_json(&answer);
        return Ok(());
    }
    let empty = answer
        .get("revisions")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        emit(&format!(
            "{name} has no revisions; push one with `depot push FILE`.\n"
        ));
    } else {
        emit(&status::render_revisions(namespace, &answer));
    }
    Ok(())
}

async fn info(name: &str, kind: TypeArg, format: Format) -> Result<(), ClientError> {
    let api = connect(Auth::IfAny)?;
    let (namespace, answer) = public_namespace(&api, name, kind).await?;
    if format == Format::Json {
        emit_json(&answer);
    } else {
        emit(&status::render_info(namespace, &answer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found() -> Result<(), ClientError> {
        Err(ClientError::new(
            ErrorKind::NotFound,
            "package-not-found",
            "no",
        ))
    }

    #[test]
    fn namespace_of_a_name() {
        assert_eq!(
            pick_namespace("a", Ok(()), not_found(), "is registered"),
            Ok(Namespace::Snap)
        );
        assert_eq!(
            pick_namespace("a", not_found(), Ok(()), "is registered"),
            Ok(Namespace::Charm)
        );
        let both = pick_namespace("a", Ok(()), Ok(()), "is registered").unwrap_err();
        assert_eq!(
            (both.code.as_str(), both.exit_code()),
            ("ambiguous-name", 2)
        );
        let neither = pick_namespace("a", not_found(), not_found(), "is registered").unwrap_err();
        assert_eq!(neither.exit_code(), 4);
        let denied = Err(ClientError::new(ErrorKind::Auth, "invalid-token", "no"));
        assert_eq!(
            pick_namespace("a", denied.clone(), not_found(), "is registered")
                .unwrap_err()
                .code,
            "invalid-token"
        );
        assert_eq!(
            pick_namespace("a", not_found(), denied, "is registered")
                .unwrap_err()
                .code,
            "invalid-token"
        );
    }

    #[test]
    fn release_answer_lines() {
        let answer = json!({"released": [
            {"channel": "latest/beta", "revision": 3, "expiration-date": null},
            {"channel": "latest/edge/fix", "revision": 3, "expiration-date": "2026-02-01T00:00:00.000001Z"},
            {"channel": "latest/edge", "revision": null, "expiration-date": null},
        ]});
        assert_eq!(
            release_lines("hello", &answer),
            "Released hello revision 3 to latest/beta.\n\
             Released hello revision 3 to latest/edge/fix (until 2026-02-01T00:00:00Z).\n\
             Closed latest/edge of hello.\n"
        );
    }
}
