//! Building the application: database, users, sessions, libvirt backend and the
//! axum router. `Application::build` binds the listener before serving, so tests can
//! ask for port 0 and read the real address. It returns while the hosts still
//! connect: until they have settled only the login is served (`wait_started`).

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use app::{api::ApiError, backend::Services, shell, App};
use axum::{
    body::Body,
    extract::{FromRef, Request, State},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tokio::{net::TcpListener, sync::broadcast};
use tower_http::trace::TraceLayer;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_sqlx_store::SqliteStore;

use crate::{
    accounts::{FirstUser, SqlAccounts},
    audit::SqlAudit,
    auth,
    config::{Config, HostConfig},
    console, db, demo, security,
    services::{
        balance::{BalancePort, BalanceService},
        maintenance::{MaintenancePort, MaintenanceService},
        migration::{MigrationJobs, MigrationService},
        notify::Notifier,
        roots::StorageRoots,
        HostRegistry, LibvirtConsoles, LibvirtFleet, LibvirtGuests, LibvirtStorage,
    },
    static_files,
    throttle::LoginThrottle,
    transfer, ws,
};

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
    /// The services' events as the `/ws` sockets send them (`ws::relay`).
    pub frames: broadcast::Sender<Arc<ws::Frame>>,
    /// `public_url`'s origin, if configured (see `auth::same_origin`).
    pub public_origin: Option<String>,
    pub throttle: Arc<LoginThrottle>,
    /// The pages' chunk bundles, once written (see `app::bundles`).
    pub bundles: app::bundles::PageBundles,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The demo fleet's fixture files; removed when the application ends.
    _demo_dir: Option<tempfile::TempDir>,
}

/// Leptos settings from cargo-leptos' environment, with the app's output name
/// when run outside cargo-leptos (tests).
pub fn leptos_options() -> LeptosOptions {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some()
        || option_env!("LEPTOS_OUTPUT_NAME").is_some();
    let configured = from_cargo_leptos
        .then(|| get_configuration(None).ok())
        .flatten()
        .map(|c| c.leptos_options);
    let mut options =
        configured.unwrap_or_else(|| LeptosOptions::builder().output_name("virtdeck").build());
    // A release build by cargo-leptos with `hash-files` leaves the names'
    // hashes beside the binary: then the pages link the hashed files.
    if hash_file(&options).is_some_and(|f| f.exists())
        && std::env::var("LEPTOS_HASH_FILES").as_deref() != Ok("false")
    {
        options.hash_files = true;
    }
    options
}

/// The hash file cargo-leptos writes beside the binary (`hash-files`).
fn hash_file(options: &LeptosOptions) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// Where the generated first password goes: beside the database file.
fn password_file(database_url: &str) -> std::path::PathBuf {
    let path = database_url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    let dir = match std::path::Path::new(path).parent() {
        Some(d) if !path.is_empty() && !path.starts_with(':') => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        dir
    };
    dir.join("virtdeck-admin-password")
}

/// Makes virtdeck's data directory, readable by its owner only (0700), if
/// it is not there yet.
fn make_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot make the data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `secret` to a new file only its owner can read (mode 0600).
fn write_secret(file: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let _ = std::fs::remove_file(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    writeln!(f, "{secret}")
}

/// The directory of `/pkg/…` files.
fn pkg_dir(options: &LeptosOptions) -> std::path::PathBuf {
    std::path::PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref())
}

/// A site file's name as the pages link it: `<stem>.<hash>.<ext>` with the
/// hash of `key` (`wasm`, `manifest`, …) from the hash file beside the
/// binary when names are hashed, else `<stem>.<ext>`.
fn hashed_name(options: &LeptosOptions, key: &str, stem: &str, ext: &str) -> String {
    let hash = options
        .hash_files
        .then(|| {
            let hashes = std::fs::read_to_string(hash_file(options)?).ok()?;
            hashes.lines().find_map(|line| {
                let (file, hash) = line.split_once(':')?;
                (file.trim() == key).then(|| hash.trim().to_string())
            })
        })
        .flatten();
    match hash {
        Some(hash) => format!("{stem}.{hash}.{ext}"),
        None => format!("{stem}.{ext}"),
    }
}

/// The chunk manifest the split build writes (`scripts/build`), named as
/// Leptos finds it: `__wasm_split_manifest.<hash>.json` with the hash from
/// the hash file beside the binary when names are hashed.
fn split_manifest(options: &LeptosOptions) -> std::path::PathBuf {
    pkg_dir(options).join(hashed_name(
        options,
        "manifest",
        "__wasm_split_manifest",
        "json",
    ))
}

/// The JS glue and the main WebAssembly module, as the pages name them.
fn main_files(options: &LeptosOptions) -> app::bundles::PlainHttp {
    let output = options.output_name.as_ref();
    app::bundles::PlainHttp {
        js: hashed_name(options, "js", output, "js"),
        wasm: hashed_name(options, "wasm", output, "wasm"),
    }
}

/// The pages' WebAssembly chunks are preloaded from the manifest the split
/// build writes (`scripts/build`), read relative to the working directory:
/// said at start when it cannot be found (pages then fetch their chunks one
/// after another, slowly on a phone).
fn warn_without_chunk_manifest(manifest: &std::path::Path) {
    if !manifest.exists() {
        tracing::warn!(
            "no page-chunk manifest ({}) from {}: build with scripts/build and start the \
             server from the repository root, or set LEPTOS_SITE_ROOT",
            manifest.display(),
            std::env::current_dir().unwrap_or_default().display()
        );
    }
}

/// Static work no first answer needs (blocking, once per build): the
/// pages' chunk bundles with their compressed copies, then published (the
/// pages preload them from then on); the LZMA copies of the main module and
/// the bundles; the compressed copies of every other static file; then the
/// LZMA copies published (browsers without brotli fetch those from then on,
/// with the JS beside them compressed: it would come whole before).
fn prepare_static_files(
    pkg: &std::path::Path,
    manifest: &std::path::Path,
    main: app::bundles::PlainHttp,
    bundles: &app::bundles::PageBundles,
) {
    let mut lzma = false;
    if manifest.exists() {
        match static_files::write_bundles(pkg, manifest) {
            Ok(written) => {
                tracing::info!("{} page chunk bundles ready", written.len());
                let mut files: Vec<_> = written
                    .values()
                    .map(|name| pkg.join(format!("{name}.wasm")))
                    .collect();
                files.push(pkg.join(&main.wasm));
                let _ = bundles.0.set(written);
                lzma = static_files::write_lzma(&files);
                if !lzma {
                    tracing::warn!("no LZMA copies: browsers without brotli download gzip");
                }
            }
            Err(e) => {
                tracing::warn!("no page chunk bundles ({e}): pages preload their chunks one by one")
            }
        }
    }
    static_files::precompress(pkg);
    if lzma {
        let _ = bundles.1.set(main);
    }
}

/// Compress pages at the usual level (gzip 6, brotli 4: about a quarter
/// smaller than the fastest, a millisecond for a page of 100 guests; a
/// first visit on a slow phone waits for these bytes before anything else
/// starts) and JSON answers at the fastest (a whole fleet's list is
/// megabytes). Static files come precompressed; volume downloads and the
/// WebSocket are left alone. Two layers: the outer one leaves what the inner
/// one compressed.
fn compression(
    content_type: &'static str,
    level: tower_http::CompressionLevel,
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::{predicate::SizeAbove, CompressionLayer, Predicate};
    let matching = move |_: axum::http::StatusCode,
                         _: axum::http::Version,
                         headers: &axum::http::HeaderMap,
                         _: &axum::http::Extensions| {
        headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(content_type))
    };
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(level)
        .compress_when(SizeAbove::new(512).and(matching))
}

/// How long after the start the work no first answer needs begins (an
/// argon2 hash: 40 ms of a core; checking, or on the first start after a
/// build writing, the static files' compressed copies: 10 ms to seconds).
/// Until then the first requests after a restart — pages reconnecting,
/// scripts — have the CPU; a login by an unknown user in that moment makes
/// the hash itself.
const AFTER_START: std::time::Duration = std::time::Duration::from_secs(1);

/// The configured hosts; with none, a demo fleet on libvirt's test driver
/// (its fixture files live in the returned directory, kept while serving).
fn configured_hosts(
    config: &Config,
) -> anyhow::Result<(Vec<HostConfig>, Option<tempfile::TempDir>)> {
    if !config.hosts.is_empty() {
        tracing::info!(
            "{} hosts configured in {}",
            config.hosts.len(),
            config.source
        );
        return Ok((config.hosts.clone(), None));
    }
    let dir = tempfile::Builder::new()
        .prefix("virtdeck-demo-")
        .tempdir()
        .context("cannot create a directory for the demo fleet")?;
    let hosts = demo::write_fixtures(dir.path())?;
    tracing::warn!(
        "no hosts configured in {}: serving a DEMO fleet of {} hosts on libvirt's test driver \
         (in memory, reset at every start). To manage real hosts, write virtdeck.toml with \
         [[hosts]] tables, e.g. name = \"kvm1\", uri = \"qemu:///system\" (see README).",
        config.source,
        hosts.len()
    );
    Ok((hosts, Some(dir)))
}

impl Application {
    pub async fn build(config: Config, leptos_options: LeptosOptions) -> anyhow::Result<Self> {
        // Before the first password hash: its 19 MiB go back to the system.
        crate::memory::map_large_allocations();
        make_data_dir(&config.data_dir)?;
        let (hosts, demo_dir) = configured_hosts(&config)?;
        let (events, _) = broadcast::channel(256);
        // Subscribed before the hosts connect: an unreachable host is said at once.
        let notifier_events = events.subscribe();
        // The hosts connect (libvirt's work, on blocking threads) while the
        // database opens and the first user is made.
        let registry = HostRegistry::new(&hosts, events.clone());
        let pool = db::connect(&config.database_url).await?;
        let accounts = Arc::new(
            SqlAccounts::new(pool.clone())
                .await?
                .with_login_limits(config.login_attempts, config.login_window),
        );
        // The first user's password hash (argon2: 19 MiB, about 40 ms in a
        // release build here) is made while the hosts connect, not before.
        let first_user = tokio::spawn({
            let accounts = accounts.clone();
            let password = config.admin_password.clone();
            async move { accounts.ensure_admin(password).await }
        });

        let session_store = SqliteStore::new(pool.clone());
        session_store
            .migrate()
            .await
            .context("cannot create the sessions table")?;
        tokio::spawn(
            session_store
                .clone()
                .continuously_delete_expired(tokio::time::Duration::from_secs(600)),
        );

        let notifier = Notifier::start(config.notify.clone(), pool.clone(), notifier_events);
        // The services exist at once; what needs the hosts (re-attaching the
        // jobs a restart left running, sampling) waits for them in `started`.
        let migration_jobs =
            MigrationJobs::new(registry.clone(), pool.clone(), config.migration_host_wait);
        let guests = Arc::new(LibvirtGuests::new(registry.clone(), pool.clone()));
        let audit = Arc::new(SqlAudit::new(pool.clone()));
        audit.clone().keep_pruned(config.audit_retention_days);
        let migrations: Arc<dyn app::backend::Migrations> =
            Arc::new(MigrationService(migration_jobs.clone()));
        let maintenance = MaintenanceService::new(
            registry.clone(),
            pool.clone(),
            migrations.clone(),
            audit.clone(),
        );
        let balance = BalanceService::new(
            registry.clone(),
            pool.clone(),
            migrations.clone(),
            audit.clone(),
            config.balance_sample,
            config.balance_bandwidth_mib_s,
        )
        .await;
        let (started_tx, started) = tokio::sync::watch::channel(false);
        tokio::spawn({
            let (registry, guests, maintenance, balance) = (
                registry.clone(),
                guests.clone(),
                maintenance.clone(),
                balance.clone(),
            );
            async move {
                // The first pages then show the fleet, not "connecting…"
                // (bounded: a hanging host does not hold the start up for long).
                registry
                    .wait_settled(std::time::Duration::from_secs(5))
                    .await;
                migration_jobs.recover().await;
                guests.recover().await;
                maintenance.recover().await;
                balance.run_sampling();
                let _ = started_tx.send(true);
            }
        });
        match first_user.await.context("creating the first user")?? {
            FirstUser::Generated(password) => {
                let file = password_file(&config.database_url);
                write_secret(&file, &password).with_context(|| {
                    format!("cannot write the first password to {}", file.display())
                })?;
                tracing::warn!(
                    "created the first user: admin; its password is in {} (readable only by \
                     this system user); change it at first login, then delete the file",
                    file.display()
                )
            }
            FirstUser::FromEnvironment => {
                tracing::info!(
                    "created the first user: admin with the password in VIRTDECK_ADMIN_PASSWORD"
                )
            }
            FirstUser::Existed if config.admin_password.is_some() => {
                tracing::info!("users exist already; VIRTDECK_ADMIN_PASSWORD is ignored")
            }
            FirstUser::Existed => {}
        }

        let unknown_user_hash = accounts.clone();
        let services = Services {
            fleet: Arc::new(LibvirtFleet::new(registry.clone())),
            guests,
            storage: Arc::new(
                LibvirtStorage::new(
                    registry.clone(),
                    StorageRoots::new(config.storage_roots.clone(), &hosts),
                )
                .with_transfer_idle(config.transfer_idle),
            ),
            migrations,
            maintenance: Arc::new(MaintenancePort(maintenance)),
            balance: Arc::new(BalancePort(balance)),
            notifications: notifier,
            consoles: Arc::new(LibvirtConsoles::new(registry.clone())),
            accounts,
            audit: audit.clone(),
        };
        let state = AppState {
            leptos_options,
            services,
            frames: ws::relay(&events),
            public_origin: config.public_origin.clone(),
            throttle: Arc::new(LoginThrottle::new(
                config.login_attempts,
                config.login_window,
            )),
            bundles: Default::default(),
        };
        // Work no first answer needs, a moment after the start (see
        // `AFTER_START`): the hash unknown users' logins are checked against,
        // the pages' chunk bundles, their and the main module's LZMA copies,
        // and compressed copies of the wasm, JS and CSS, once per build —
        // until they are written (atomically) the originals are served and
        // pages preload their chunks one by one.
        let pkg = pkg_dir(&state.leptos_options);
        let manifest = split_manifest(&state.leptos_options);
        let main = main_files(&state.leptos_options);
        warn_without_chunk_manifest(&manifest);
        let bundles = state.bundles.clone();
        let mut after_start = started.clone();
        tokio::spawn(async move {
            // Not during the hosts' opens: they are the first answer's work.
            let _ = after_start.wait_for(|done| *done).await;
            tokio::time::sleep(AFTER_START).await;
            unknown_user_hash.prepare_unknown_user_hash();
            // What the hosts' opens freed, then what compressing freed.
            let _ = tokio::task::spawn_blocking(crate::memory::give_back_freed).await;
            let _ = tokio::task::spawn_blocking(move || {
                prepare_static_files(&pkg, &manifest, main, &bundles);
                crate::memory::give_back_freed();
            })
            .await;
            let mut every = tokio::time::interval(crate::memory::EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let _ = tokio::task::spawn_blocking(crate::memory::give_back_freed).await;
            }
        });
        let router = router(
            state,
            auth::session_layer(session_store, config.secure_cookies),
            crate::proxies::TrustedProxies(Arc::new(config.trusted_proxies.clone())),
            Started(started),
        );

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        Ok(Application {
            listener,
            router,
            _demo_dir: demo_dir,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        // Without TCP_NODELAY an answer's last small segment can wait for the
        // client's delayed acknowledgement: the first complete list after a
        // start came 40 ms late in about one request of three (measured).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY on a connection: {e}");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

/// The app's page routes, generated once per process. Leptos suppresses
/// resource loading process-wide while it generates them, so a page being
/// rendered at that moment (by another `Application` in the same process, as
/// in the tests) would hang forever (leptos-rs/leptos#4773).
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn router(
    state: AppState,
    sessions: tower_sessions::SessionManagerLayer<SqliteStore>,
    proxies: crate::proxies::TrustedProxies,
    started: Started,
) -> Router {
    let routes = route_list();
    let context = {
        let services = state.services.clone();
        let bundles = state.bundles.clone();
        move || {
            provide_context(services.clone());
            provide_context(bundles.clone());
        }
    };
    let options = state.leptos_options.clone();
    let statics = static_files::router(&pkg_dir(&options), options.hash_files);
    Router::new()
        .merge(statics)
        .route(
            "/api/volumes/upload",
            put(transfer::upload).post(transfer::upload),
        )
        .route("/api/volumes/download", get(transfer::download))
        .route("/api/{*fn_name}", get(server_fns).post(server_fns))
        .route("/ws", get(ws::handler))
        .route("/ws/console/serial", get(console::serial::handler))
        .route("/ws/console/vnc", get(console::vnc::handler))
        .route("/login", post(auth::login_form))
        .route("/login/totp", post(auth::login_totp_form))
        .route("/", get(|| async { Redirect::to("/guests") }))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), auth::gate))
        .layer(sessions)
        .layer(middleware::from_fn(security::headers))
        .layer(compression(
            "text/html",
            tower_http::CompressionLevel::Default,
        ))
        .layer(compression(
            "application/json",
            tower_http::CompressionLevel::Fastest,
        ))
        .layer(middleware::from_fn_with_state(started, wait_started))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            proxies,
            crate::proxies::forwarded,
        ))
        .with_state(state)
}

/// Whether the start is over: the hosts settled (or their bound passed) and
/// the jobs a restart left running re-attached.
#[derive(Clone)]
struct Started(tokio::sync::watch::Receiver<bool>);

/// What is served while the hosts connect: the login page and the login
/// itself, and the static files — a browser can sign in while a slow host
/// holds the start up. Everything else needs the fleet and the re-attached
/// jobs, and waits for them.
fn serves_before_start(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/login/totp" | "/api/login" | "/api/login/totp" | "/favicon.svg"
    ) || path.starts_with("/pkg/")
}

/// Holds a request that needs the fleet until the start is over.
async fn wait_started(
    State(Started(mut started)): State<Started>,
    req: Request,
    next: middleware::Next,
) -> Response {
    if !serves_before_start(req.uri().path()) {
        // An error means the start task is gone (it panicked): serve anyway
        // rather than hold every request forever.
        let _ = started.wait_for(|done| *done).await;
    }
    next.run(req).await
}

/// The HTTP API: every server function under `/api/…`.
async fn server_fns(State(state): State<AppState>, req: Request<Body>) -> Response {
    let known =
        leptos::server_fn::axum::get_server_fn_service(req.uri().path(), req.method().clone())
            .is_some();
    if !known {
        let error = ApiError::NotFound(format!(
            "there is no API endpoint {} {}",
            req.method(),
            app::api::clip(req.uri().path())
        ));
        return error.into_response();
    }
    let services = state.services.clone();
    handle_server_fns_with_context(move || provide_context(services.clone()), req)
        .await
        .into_response()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
