// mimalloc serves every allocation, Rust's and C's (SQLite's, through its `override`): glibc's
// allocator was a large share of a cold start (SQLite copies every value it returns) and of
// the read path (docs/reference/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    depot::cli::run()
}
