//! The benchmark ceiling (`make bench`): a bare axum server answering every `GET` with a
//! constant JSON body, on the same runtime, allocator and `axum::serve` set-up as
//! `depot serve`, so that depot's own request rates can be read as a fraction of what the HTTP
//! stack alone reaches on the same machine.
//!
//!     cargo run --release -p depot --example ceiling -- 127.0.0.1:18081

use axum::Router;
use axum::http::header;
use axum::routing::get;

// The same allocator as `depot serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BODY: &str = r#"{"name":"ceiling","summary":"a constant answer"}"#;

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_string());
    tokio::runtime::Runtime::new()?.block_on(async move {
        let app = Router::new().fallback(get(|| async {
            ([(header::CONTENT_TYPE, "application/json")], BODY)
        }));
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("ceiling: serving on {listen}");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    })
}
