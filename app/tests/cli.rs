//! The `depot` binary: configuration layering, `config show`, migrations, admin commands, and
//! `serve` with no configuration at all.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn depot(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_depot"));
    command.current_dir(dir);
    // Start from a clean environment as far as depot is concerned.
    for (key, _) in std::env::vars() {
        if key.starts_with("DEPOT_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn configuration_layers_defaults_file_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(depot(dir.path()).args(["config", "show"]));
    assert_eq!(code, 0);
    assert!(out.contains("listen = \"127.0.0.1:8080\""), "{out}");
    assert!(out.contains("data_dir = \"depot-data\""), "{out}");
    assert!(
        out.contains("database_url = \"sqlite://depot-data/depot.db\""),
        "{out}"
    );

    std::fs::write(
        dir.path().join("depot.toml"),
        "listen = \"127.0.0.1:9000\"\nmax_upload_size = 1000\nlog_format = \"json\"\n\
         database_url = \"postgres://depot:hunter2@db.example:5432/depot?sslmode=require\"\n",
    )
    .unwrap();
    let (code, out, _) = run(depot(dir.path()).args(["config", "show"]));
    assert_eq!(code, 0);
    assert!(out.contains("listen = \"127.0.0.1:9000\""), "{out}");
    assert!(out.contains("max_upload_size = 1000"), "{out}");
    assert!(out.contains("log_format = \"json\""), "{out}");
    assert!(!out.contains("hunter2"), "the password is redacted: {out}");
    assert!(
        out.contains("postgres://depot:***@db.example:5432/depot?sslmode=require"),
        "{out}"
    );

    // DEPOT_ variables that are not configuration keys are not configuration.
    let (code, _, err) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_TOKEN", "x")
        .env("DEPOT_SOMETHING", "y"));
    assert_eq!(code, 0, "{err}");

    // Environment beats the file.
    let (code, out, _) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_LISTEN", "0.0.0.0:7000")
        .env("DEPOT_MAX_UPLOAD_SIZE", "5"));
    assert_eq!(code, 0);
    assert!(out.contains("listen = \"0.0.0.0:7000\""), "{out}");
    assert!(out.contains("max_upload_size = 5"), "{out}");

    // Text settings are taken as written: digits, `true` and quotes stay text.
    let (code, out, err) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_BLOB_BACKEND", "s3")
        .env("DEPOT_S3_BUCKET", "2024")
        .env("DEPOT_S3_ACCESS_KEY", "12345")
        .env("DEPOT_S3_SECRET_KEY", "true")
        .env("DEPOT_S3_REGION", "\"quoted\""));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("s3_bucket = \"2024\""), "{out}");
    assert!(out.contains("s3_access_key = \"12345\""), "{out}");
    assert!(out.contains(r#"s3_region = "\"quoted\""#), "{out}");
    // A choice names its choices.
    let (code, _, err) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_LOG_FORMAT", "JSON"));
    assert_eq!(code, 2);
    assert!(err.contains("`JSON` is not one of `text`, `json`"), "{err}");

    // --config / DEPOT_CONFIG pick another file; a missing one is an error.
    std::fs::write(
        dir.path().join("other.toml"),
        "public_url = \"https://store.example\"\n",
    )
    .unwrap();
    let (_, out, _) = run(depot(dir.path()).args(["--config", "other.toml", "config", "show"]));
    assert!(
        out.contains("public_url = \"https://store.example\""),
        "{out}"
    );
    assert!(
        out.contains("listen = \"127.0.0.1:8080\""),
        "depot.toml is not read when --config is given: {out}"
    );
    let (code, _, err) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_CONFIG", "missing.toml"));
    assert_eq!(code, 2);
    assert!(err.contains("missing.toml"), "{err}");

    // Bad values are explained.
    let (code, _, err) = run(depot(dir.path())
        .args(["config", "show"])
        .env("DEPOT_LISTEN", "not-an-address"));
    assert_eq!(code, 2);
    assert!(err.to_lowercase().contains("listen"), "{err}");
    std::fs::write(dir.path().join("depot.toml"), "colour = \"red\"\n").unwrap();
    let (code, _, err) = run(depot(dir.path()).args(["config", "show"]));
    assert_eq!(code, 2);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn admin_commands_and_zero_configuration_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(depot(dir.path()).arg("migrate"));
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("depot-data/depot.db").exists());

    let (code, out, _) = run(depot(dir.path()).args([
        "admin",
        "create-account",
        "--username",
        "alice",
        "--email",
        "a@example.com",
    ]));
    assert_eq!(code, 0);
    assert_eq!(out.trim().len(), 32, "prints the account id: {out}");
    let (code, _, err) =
        run(depot(dir.path()).args(["admin", "create-account", "--username", "alice"]));
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");

    let (code, token, _) = run(depot(dir.path()).args([
        "admin",
        "create-token",
        "--username",
        "alice",
        "--scope",
        "package-upload",
        "--ttl",
        "1h",
    ]));
    assert_eq!(code, 0);
    let token = token.trim().to_string();
    assert!(
        token.starts_with("depot_") && !token.contains('\n'),
        "stdout is only the token: {token:?}"
    );
    let (code, _, err) =
        run(depot(dir.path()).args(["admin", "create-token", "--username", "nobody"]));
    assert_ne!(code, 0);
    assert!(err.contains("no account named"), "{err}");
    let (code, _, err) = run(depot(dir.path()).args([
        "admin",
        "create-token",
        "--username",
        "alice",
        "--scope",
        "root",
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("unknown scope"), "{err}");

    // `depot serve` with no configuration: port 8080 may be taken on a shared machine, so
    // only the listen address comes from the environment.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = depot(dir.path())
        .arg("serve")
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
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
            .recv_timeout(Duration::from_secs(30))
            .expect("depot serve printed nothing");
        if line.contains("depot is serving") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    let response = http_get(port, "/v2/snaps/info/nothing-here");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("snap-not-found"), "{response}");
    let response = http_get_with(
        port,
        "/v1/tokens/whoami",
        &format!("Authorization: Macaroon {token}\r\n"),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"username\":\"alice\""), "{response}");
    unsafe_kill(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM stops depot cleanly: {status}");
}

/// `metrics_listen`: `/metrics` is served on its own address, and only there.
#[test]
fn metrics_on_a_separate_listener() {
    let dir = tempfile::tempdir().unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, metrics_port) = (free_port(), free_port());
    let mut child = depot(dir.path())
        .arg("serve")
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
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
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("depot serve printed nothing");
        if line.contains("depot is serving") {
            break;
        }
    }
    // A request on the main listener shows up in the metrics listener's counters.
    let response = http_get(port, "/v2/snaps/info/nothing-here");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    let response = http_get(metrics_port, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(
            "depot_http_requests_total{method=\"GET\",route=\"/v2/snaps/info/{name}\",status=\"404\"} 1"
        ),
        "{response}"
    );
    // The main listener does not expose them; the metrics listener serves nothing else.
    let response = http_get(port, "/metrics");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("metrics-elsewhere"), "{response}");
    assert!(
        !response.contains(&format!(":{metrics_port}")),
        "the private metrics address stays out of the answer: {response}"
    );
    let response = http_get(metrics_port, "/v2/snaps/info/nothing-here");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.contains("\"not-found\""), "{response}");

    unsafe_kill(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM stops both listeners: {status}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_err());
}

fn unsafe_kill(child: &std::process::Child, signal: &str) {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
}

fn http_get(port: u16, path: &str) -> String {
    http_get_with(port, path, "")
}

fn http_get_with(port: u16, path: &str, headers: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// SIGTERM while a slow upload is in flight: the upload completes, new connections are
/// refused, and the process exits 0 within the grace period.
#[test]
fn sigterm_lets_a_slow_upload_finish() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) =
        run(depot(dir.path()).args(["admin", "create-account", "--username", "slowpoke"]));
    assert_eq!(code, 0);
    let (_, token, _) =
        run(depot(dir.path()).args(["admin", "create-token", "--username", "slowpoke"]));
    let token = token.trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = depot(dir.path())
        .arg("serve")
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_SHUTDOWN_GRACE_SECS", "20")
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
    while !rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server starts")
        .contains("depot is serving")
    {}

    let boundary = "slow-boundary";
    let payload = vec![b'x'; 512 * 1024];
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"binary\"; filename=\"a.snap\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&payload);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /unscanned-upload/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Macaroon {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let signalled = Instant::now();
    unsafe_kill(&child, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "new connections are refused once shutdown began"
    );
    for chunk in body[half..].chunks(64 * 1024) {
        stream.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("upload_id"), "{response}");
    assert!(
        response.to_lowercase().contains("x-request-id:"),
        "request ids are echoed: {response}"
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "stopped within the grace period"
    );
}
