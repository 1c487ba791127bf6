use std::path::Path;
use std::process::Command;

fn main() {
    // sqlx::migrate! embeds the migrations at compile time: rebuild when they change.
    println!("cargo:rerun-if-changed=migrations");
    commit();
}

/// `DEPOT_COMMIT` for `depot_build_info` and `depot --version`: as given in the environment (a
/// packaging build that has no `.git`), else the checkout's commit, else `unknown`.
fn commit() {
    println!("cargo:rerun-if-env-changed=DEPOT_COMMIT");
    if std::env::var_os("DEPOT_COMMIT").is_some() {
        return;
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&manifest)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        println!("cargo:rustc-env=DEPOT_COMMIT=unknown");
        return;
    };
    println!("cargo:rustc-env=DEPOT_COMMIT={commit}");
    // Run again when HEAD moves: a new commit, another branch. (Only files that exist: Cargo
    // runs a build script every time for a path that does not.)
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let mut watched = vec![format!("{dir}/HEAD"), format!("{dir}/packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{dir}/{branch}"));
        }
        for path in watched.iter().filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
