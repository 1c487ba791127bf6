fn main() -> std::process::ExitCode {
    depot::cli::run()
}
