//! The publisher client, end to end: the real `depot` binary serving a store (SQLite, in a
//! temporary data directory) and the same binary driven as a publisher would, with its own
//! `XDG_CONFIG_HOME`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fixtures;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_depot");

/// `depot` with no `DEPOT_*` variable from the caller's environment.
fn depot(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("DEPOT_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Asserts stderr is exactly one `error: … (<code>)` line, plus at most one `hint: …` line.
#[track_caller]
fn assert_one_error(out: &Output, exit: i32, code: &str) {
    assert_eq!(
        out.code, exit,
        "exit code; stdout {:?} stderr {:?}",
        out.stdout, out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        (1..=2).contains(&lines.len()),
        "one error line and at most one hint: {:?}",
        out.stderr
    );
    assert!(
        lines[0].starts_with("error: ") && lines[0].ends_with(&format!(" ({code})")),
        "error line with code {code}: {:?}",
        lines[0]
    );
    if let Some(hint) = lines.get(1) {
        assert!(hint.starts_with("hint: "), "{hint:?}");
    }
    assert!(out.stdout.is_empty(), "nothing on stdout: {:?}", out.stdout);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `depot serve` process on a free port, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let port = free_port();
        let mut child = depot(data_dir)
            .arg("serve")
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_DATA_DIR", data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let started = Instant::now();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("depot serve printed nothing");
            if line.contains("depot is serving") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store with the account `alice` and a publisher token for it.
struct Store {
    data: tempfile::TempDir,
    server: Server,
    token: String,
}

fn store() -> Store {
    let data = tempfile::tempdir().unwrap();
    let admin = |args: &[&str]| {
        let out = run(depot(data.path())
            .env("DEPOT_DATA_DIR", data.path())
            .arg("admin")
            .args(args));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.trim().to_string()
    };
    admin(&[
        "create-account",
        "--username",
        "alice",
        "--display-name",
        "Alice",
    ]);
    let token = admin(&["create-token", "--username", "alice"]);
    let server = Server::start(data.path());
    Store {
        data,
        server,
        token,
    }
}

/// A publisher's machine: a home with its own config directory.
struct Publisher {
    home: tempfile::TempDir,
}

impl Publisher {
    fn new() -> Publisher {
        Publisher {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn config_home(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn credentials(&self) -> PathBuf {
        self.config_home().join("depot/credentials.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = depot(self.home.path());
        command
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("HOME", self.home.path())
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// Runs and expects success with nothing on stderr.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, 0, "depot {args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "depot {args:?}: stderr");
        out.stdout
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// `depot login`, with the token piped in on stdin.
    fn login_with_stdin(&self, store: &str, token: &str) -> Output {
        let mut child = self
            .command(&["login", "--store", store])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{token}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// `2026-05-01T12:00:00.123456Z` as `depot status` prints it: `2026-05-01T12:00:00Z`.
fn short_time(raw: &str) -> String {
    format!("{}Z", &raw[..19])
}

#[test]
fn publish_a_snap_and_a_charm_from_the_command_line() {
    let store = store();
    let url = store.server.url.clone();
    let me = Publisher::new();
    let artifacts = tempfile::tempdir().unwrap();

    // A wrong token is refused at login and nothing is saved.
    let token_file = artifacts.path().join("token");
    std::fs::write(&token_file, "depot_not-a-real-token\n").unwrap();
    let out = me.run(&[
        "login",
        "--store",
        &url,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    assert_one_error(&out, 3, "invalid-token");
    assert!(
        out.stderr.contains("\nhint: run `depot login"),
        "{}",
        out.stderr
    );
    assert!(!me.credentials().exists());

    // Log in with the token on stdin; the file is private to the user.
    let out = me.login_with_stdin(&url, &store.token);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, format!("Logged in to {url} as alice.\n"));
    let mode = std::fs::metadata(me.credentials())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials file mode");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(me.credentials()).unwrap()).unwrap();
    assert_eq!(saved["store"], url.as_str());
    assert_eq!(saved["token"], store.token.as_str());

    // A saved store URL that went bad is reported with the file it is in.
    let good = std::fs::read_to_string(me.credentials()).unwrap();
    std::fs::write(
        me.credentials(),
        good.replace(url.as_str(), "ftp://store.example"),
    )
    .unwrap();
    let out = me.run(&["whoami"]);
    assert_one_error(&out, 2, "invalid-store-url");
    assert!(out.stderr.contains("credentials.json"), "{}", out.stderr);
    std::fs::write(me.credentials(), good).unwrap();

    let whoami = me.ok(&["whoami"]);
    assert!(
        whoami.contains(&format!("store:        {url}\n")),
        "{whoami}"
    );
    assert!(whoami.contains("username:     alice\n"), "{whoami}");
    assert!(whoami.contains("display-name: Alice\n"), "{whoami}");
    let whoami = me.json(&["whoami"]);
    assert_eq!(whoami["account"]["username"], "alice");

    // Register a snap and a charm.
    assert_eq!(
        me.ok(&["register", "hello-depot"]),
        "Registered the snap hello-depot.\n"
    );
    assert_eq!(
        me.ok(&["register", "db-operator", "--type", "charm"]),
        "Registered the charm db-operator.\n"
    );
    assert_eq!(
        me.ok(&["names"]),
        "\
Name         Type   Status      Visibility
hello-depot  snap   registered  public
db-operator  charm  registered  public
"
    );
    let names = me.json(&["names", "--type", "charm"]);
    let listed: Vec<&str> = names["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["db-operator"]);

    // Push both with --release edge: the type and name come from the files.
    let snap = fixtures::build_snap(artifacts.path(), &fixtures::snap_yaml("hello-depot", "1.0"));
    let charm = fixtures::build_charm(
        artifacts.path(),
        &fixtures::charm_metadata("db-operator"),
        Some(&fixtures::manifest(&[
            ("ubuntu", "22.04", &["amd64"]),
            ("ubuntu", "24.04", &["amd64", "arm64"]),
        ])),
    );
    assert_eq!(
        me.ok(&["push", snap.to_str().unwrap(), "--release", "edge"]),
        "Revision 1 of snap hello-depot created.\nReleased hello-depot revision 1 to latest/edge.\n"
    );
    let pushed = me.json(&["push", charm.to_str().unwrap(), "--release", "edge"]);
    assert_eq!(pushed["name"], "db-operator");
    assert_eq!(pushed["type"], "charm");
    assert_eq!(pushed["revision"], 1);
    assert_eq!(pushed["released"][0]["channel"], "latest/edge");

    // Release to beta (and a branch), close edge.
    let released = me.ok(&["release", "hello-depot", "1", "beta,edge/fix-1"]);
    let branch_expiry = me.json(&["status", "hello-depot"])["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["channel"] == "latest/edge/fix-1")
        .map(|e| short_time(e["expiration-date"].as_str().unwrap()))
        .unwrap();
    assert_eq!(
        released,
        format!(
            "Released hello-depot revision 1 to latest/beta.\n\
             Released hello-depot revision 1 to latest/edge/fix-1 (until {branch_expiry}).\n"
        )
    );
    assert_eq!(
        me.ok(&["release", "db-operator", "1", "beta"]),
        "Released db-operator revision 1 to latest/beta.\n"
    );
    assert_eq!(
        me.ok(&["close", "hello-depot", "edge"]),
        "Closed latest/edge of hello-depot.\n"
    );
    assert_eq!(
        me.ok(&["close", "db-operator", "latest/edge", "--type", "charm"]),
        "Closed latest/edge of db-operator.\n"
    );

    // The channel maps.
    let status = me.json(&["status", "hello-depot"]);
    let channels: Vec<(&str, u64)> = status["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["channel"].as_str().unwrap(),
                e["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(channels, [("latest/beta", 1), ("latest/edge/fix-1", 1)]);
    assert_eq!(status["revisions"][0]["version"], "1.0");
    let expires = short_time(
        status["channel-map"][1]["expiration-date"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        me.ok(&["status", "hello-depot"]),
        format!(
            "\
Track   Arch  Channel     Version  Revision  Expires
latest  all   stable      –        –
              candidate   –        –
              beta        1.0      1
              edge        ↑        ↑
              edge/fix-1  1.0      1         {expires}
"
        )
    );
    assert_eq!(
        me.ok(&["status", "db-operator"]),
        "\
Track   Base                Channel    Version  Revision  Expires
latest  ubuntu@22.04/amd64  stable     –        –
                            candidate  –        –
                            beta                1
                            edge       ↑        ↑
        ubuntu@24.04/amd64  stable     –        –
                            candidate  –        –
                            beta                1
                            edge       ↑        ↑
        ubuntu@24.04/arm64  stable     –        –
                            candidate  –        –
                            beta                1
                            edge       ↑        ↑
"
    );
    let status = me.json(&["status", "db-operator"]);
    let bases: Vec<String> = status["channel-map"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}/{}/{}",
                e["channel"].as_str().unwrap(),
                e["base"]["name"].as_str().unwrap(),
                e["base"]["channel"].as_str().unwrap(),
                e["base"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        bases,
        [
            "latest/beta ubuntu/22.04/amd64",
            "latest/beta ubuntu/24.04/amd64",
            "latest/beta ubuntu/24.04/arm64"
        ]
    );

    // Revisions.
    let revisions = me.ok(&["revisions", "hello-depot"]);
    let lines: Vec<&str> = revisions.lines().collect();
    assert_eq!(lines.len(), 2, "{revisions}");
    assert_eq!(
        lines[0],
        "Revision  Version  Created               Status    Arch"
    );
    assert!(lines[1].starts_with("1         1.0      20"), "{revisions}");
    assert!(lines[1].ends_with("Z  released  all"), "{revisions}");
    let revisions = me.json(&["revisions", "db-operator"]);
    assert_eq!(revisions["revisions"][0]["revision"], 1);
    assert_eq!(
        revisions["revisions"][0]["bases"].as_array().unwrap().len(),
        3
    );

    // Info is public: another machine with only the store's URL sees it.
    let anonymous = Publisher::new();
    let info = run(anonymous
        .command(&["info", "hello-depot"])
        .env("DEPOT_STORE", &url));
    assert_eq!(info.code, 0, "{}", info.stderr);
    assert!(
        info.stdout.starts_with(
            "name:        hello-depot\ntype:        snap\ntitle:       hello-depot\n\
             summary:     The hello-depot snap\npublisher:   Alice\n\
             description: |\n  A test snap called hello-depot.\nchannels:\n"
        ),
        "{}",
        info.stdout
    );
    assert!(
        info.stdout
            .contains("\n  Channel            Arch  Version  Revision  Released\n"),
        "{}",
        info.stdout
    );
    assert!(
        info.stdout
            .contains("\n  latest/beta        all   1.0      1         20"),
        "{}",
        info.stdout
    );
    let info = run(anonymous
        .command(&["info", "db-operator", "--format", "json"])
        .env("DEPOT_STORE", &url));
    assert_eq!(info.code, 0, "{}", info.stderr);
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["type"], "charm");
    assert_eq!(info["name"], "db-operator");
    assert_eq!(info["result"]["summary"], "The db-operator charm");

    // Errors: one line, a stable code, a hint, an exit code scripts can act on.
    assert_one_error(
        &me.run(&["status", "no-such-package"]),
        4,
        "package-not-found",
    );
    assert_one_error(
        &me.run(&["revisions", "no-such-package", "--type", "snap"]),
        4,
        "package-not-found",
    );
    assert_one_error(
        &me.run(&["info", "no-such-package"]),
        4,
        "package-not-found",
    );
    let out = me.run(&["release", "hello-depot", "1", "beta/x/y/z"]);
    assert_one_error(&out, 1, "invalid-channel");
    assert_eq!(out.stderr.lines().count(), 2, "with a hint");
    assert_one_error(
        &me.run(&["release", "hello-depot", "7", "beta"]),
        1,
        "revision-not-found",
    );
    let out = run(me.command(&["whoami"]).env("DEPOT_TOKEN", "depot_wrong"));
    assert_one_error(&out, 3, "invalid-token");
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let out = run(me
        .command(&["status", "hello-depot"])
        .env("DEPOT_STORE", &unreachable));
    assert_one_error(&out, 3, "not-logged-in"); // the saved token is only for its own store
    let out = run(me
        .command(&["status", "hello-depot"])
        .env("DEPOT_STORE", &unreachable)
        .env("DEPOT_TOKEN", &store.token));
    assert_one_error(&out, 5, "store-unreachable");
    assert!(out.stderr.contains(&unreachable), "{}", out.stderr);

    // Push errors are caught before the upload.
    let other = fixtures::build_snap(artifacts.path(), &fixtures::snap_yaml("unregistered", "1"));
    let out = me.run(&["push", other.to_str().unwrap()]);
    assert_one_error(&out, 4, "package-not-found");
    assert!(
        out.stderr
            .contains("hint: register it first with `depot register unregistered`"),
        "{}",
        out.stderr
    );
    assert_one_error(
        &me.run(&[
            "push",
            snap.to_str().unwrap(),
            "--release",
            "latest/nightly",
        ]),
        2,
        "invalid-channel",
    );
    assert_one_error(
        &me.run(&["push", snap.to_str().unwrap(), "--release", "edge,nightly"]),
        2,
        "track-not-found",
    );
    let out = me.run(&["push", snap.to_str().unwrap(), "--release", "2.0/stable"]);
    assert_one_error(&out, 2, "track-not-found");
    assert!(
        out.stderr.contains("`depot create-track hello-depot 2.0`"),
        "{}",
        out.stderr
    );
    // Tracks are created from the client, then released to.
    assert_eq!(
        me.ok(&["create-track", "hello-depot", "2.0,3.0"]),
        "Created the tracks 2.0, 3.0 of hello-depot.\n"
    );
    assert_eq!(
        me.ok(&["create-track", "hello-depot", "2.0", "4.0"]),
        "Created 1 of the tracks 2.0, 4.0 of hello-depot; the others existed already.\n"
    );
    assert_eq!(
        me.ok(&["create-track", "hello-depot", "2.0"]),
        "hello-depot already has the tracks 2.0; nothing changed.\n"
    );
    assert_one_error(
        &me.run(&["create-track", "hello-depot", "bad/track"]),
        1,
        "invalid-track-name",
    );
    assert_eq!(
        me.ok(&["release", "hello-depot", "1", "2.0/beta,2.0/beta"]),
        "Released hello-depot revision 1 to 2.0/beta.\n",
        "a channel named twice is released once"
    );
    // A store URL with a path depot does not serve is not a missing package.
    let out = run(me
        .command(&["whoami"])
        .env("DEPOT_STORE", format!("{url}/prefix"))
        .env("DEPOT_TOKEN", &store.token));
    assert_one_error(&out, 1, "not-found");
    assert!(out.stderr.contains("check the store URL"), "{}", out.stderr);
    assert_one_error(
        &me.run(&["push", token_file.to_str().unwrap()]),
        2,
        "invalid-artifact",
    );
    assert_one_error(&me.run(&["push", "missing.snap"]), 2, "file-unreadable");
    let revisions = me.json(&["revisions", "hello-depot"]);
    assert_eq!(
        revisions["revisions"].as_array().unwrap().len(),
        1,
        "no failed push uploaded a revision"
    );
    assert_eq!(me.run(&["release", "hello-depot", "one", "beta"]).code, 2);

    // The same name as a snap and a charm needs --type.
    me.ok(&["register", "twin"]);
    me.ok(&["register", "twin", "--type", "charm"]);
    assert_one_error(&me.run(&["status", "twin"]), 2, "ambiguous-name");
    assert_eq!(
        me.ok(&["status", "twin", "--type", "charm"]),
        "twin has no released revisions.\n"
    );

    // Logging out forgets the token.
    assert_eq!(me.ok(&["logout"]), format!("Logged out of {url}.\n"));
    assert!(!me.credentials().exists());
    assert_one_error(&me.run(&["whoami"]), 3, "not-logged-in");
    assert_eq!(me.ok(&["logout"]), "Not logged in.\n");

    // CI: the environment alone is enough.
    let out = run(me
        .command(&["whoami", "--format", "json"])
        .env("DEPOT_STORE", &url)
        .env("DEPOT_TOKEN", &store.token));
    assert_eq!(out.code, 0, "{}", out.stderr);
    drop(store.data);
}

#[test]
fn client_commands_ignore_the_server_configuration() {
    let me = Publisher::new();
    // A broken server configuration in the working directory and environment…
    std::fs::write(me.home.path().join("depot.toml"), "colour = \"red\"\n").unwrap();
    let out = run(me
        .command(&["whoami"])
        .env("DEPOT_LISTEN", "not-an-address"));
    // …does not matter to a client command: it fails only for want of a login.
    assert_one_error(&out, 3, "not-logged-in");
    // While a server command still refuses it.
    let out = me.run(&["config", "show"]);
    assert_eq!(out.code, 2, "{}", out.stderr);

    // A store that is not there: exit 5, one line.
    let out = run(me
        .command(&["info", "anything"])
        .env("DEPOT_STORE", format!("http://127.0.0.1:{}", free_port())));
    assert_one_error(&out, 5, "store-unreachable");
    // A store URL that is not one: a usage error.
    let out = me.run(&["login", "--store", "store.example"]);
    assert_one_error(&out, 2, "invalid-store-url");
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_depot()"),
        ("zsh", "#compdef depot"),
        ("fish", "complete -c depot"),
    ] {
        let out = run(depot(dir.path()).args(["completions", shell]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("push"), "{shell} completes subcommands");
    }
    let out = run(depot(dir.path()).arg("man"));
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(".TH depot 1"), "{}", out.stdout);
    assert!(out.stdout.contains("push"), "{}", out.stdout);
    let out = run(depot(dir.path()).args(["completions", "tcsh"]));
    assert_eq!(out.code, 2);
    // The exit codes are documented in --help.
    let out = run(depot(dir.path()).args(["push", "--help"]));
    assert!(
        out.stdout.contains("5  the store is unreachable"),
        "{}",
        out.stdout
    );
}
