// Leptos views nest deeply in their types; the pages need more than 128.
#![recursion_limit = "256"]
// No unsafe code here: libvirt's FFI lives in the library (`libvirt/sys.rs`).
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::process::ExitCode;

use server::{config::Config, startup};
use tracing_subscriber::EnvFilter;

/// Blocking threads (libvirt calls) at most: however many hosts hang, the
/// process stays bounded (with the runtime's workers, libvirt's event loop and
/// SQLite's threads, under 64 in all).
const MAX_BLOCKING_THREADS: usize = 40;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("virtdeck: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();

    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("virtdeck: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match startup::Application::build(config, startup::leptos_options()).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("virtdeck: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("virtdeck is listening on http://{}", app.addr());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("virtdeck: server error: {e}");
            ExitCode::FAILURE
        }
    }
}
