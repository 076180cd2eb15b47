// Leptos views nest deeply in their types; the pages need more than 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use server::{config::Config, startup};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
