//! Building and starting the service from configuration.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use lms_api::auth::TokenKeys;
use lms_api::limiter::Limit;
use lms_api::{ApiConfig, ApiContext, Ctx};
use lms_db::{Database, PoolSettings};
use poem::listener::{Acceptor, Listener, TcpListener};
use sqlx::postgres::PgConnectOptions;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{JwtAlgorithm, ServeArgs};

/// Shortest accepted JWT secret, in bytes.
const MIN_SECRET_BYTES: usize = 32;

/// `url` with its user replaced by `role` and its password removed: the
/// default connection of a runtime role, for clusters that trust local roles
/// or authenticate them otherwise (a `.pgpass`, a certificate).
pub fn role_url(url: &str, role: &str) -> anyhow::Result<String> {
    let mut u = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    u.set_username(role)
        .map_err(|_| anyhow::anyhow!("cannot set the user of DATABASE_URL"))?;
    u.set_password(None)
        .map_err(|_| anyhow::anyhow!("cannot clear the password of DATABASE_URL"))?;
    Ok(u.into())
}

/// Connects the tenant pool (as `lms_app`) and the platform pool (as
/// `lms_platform`).
pub async fn connect(
    app_url: &str,
    platform_url: &str,
    max_connections: u32,
) -> anyhow::Result<Database> {
    let app = PgConnectOptions::from_str(app_url).context("app database URL")?;
    let platform = PgConnectOptions::from_str(platform_url).context("platform database URL")?;
    let settings = PoolSettings {
        app_max_connections: max_connections,
        ..PoolSettings::default()
    };
    Database::connect(app, platform, &settings)
        .await
        .context("connecting to the database")
}

/// The API state from `serve` settings.
pub fn api_context(db: Database, args: &ServeArgs) -> anyhow::Result<Ctx> {
    let tokens = token_keys(args)?;
    let (public_scheme, public_port) = args.public_scheme_and_port();
    if !matches!(public_scheme.as_str(), "http" | "https") {
        anyhow::bail!("--public-base-url must be an http or https URL");
    }
    let platform_cors_origins = args
        .platform_cors_origins
        .iter()
        .map(|o| {
            lms_api::settings::cors_origin(o)
                .map_err(|why| anyhow::anyhow!("--platform-cors-origins: {o:?} {why}"))
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let config = ApiConfig {
        platform_cors_origins: platform_cors_origins.into(),
        public_scheme,
        public_port,
        base_domain: args.base_domain.trim_end_matches('.').to_ascii_lowercase(),
        platform_host: args
            .platform_host()
            .trim_end_matches('.')
            .to_ascii_lowercase(),
        trusted_proxies: args.trusted_proxies.clone(),
        metrics_allow: args.metrics_allow.clone(),
        tenant_cache_ttl: Duration::from_secs(args.tenant_cache_ttl_secs),
        actor_cache_ttl: Duration::from_secs(args.actor_cache_ttl_secs),
        listener_grace: Duration::from_secs(args.listener_grace_secs),
        max_body_bytes: args.max_body_bytes,
        max_import_bytes: args.max_import_bytes,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        refresh_token_ttl: Duration::from_secs(args.refresh_token_ttl_secs),
        catalog_cache_bytes: args.catalog_cache_bytes,
        catalog_cache_ttl: Duration::from_secs(args.catalog_cache_ttl_secs),
        login_failures_per_address: Limit {
            max: args.login_failures_per_address,
            window: Duration::from_secs(args.login_window_secs),
        },
        login_failures_per_account: Limit {
            max: args.login_failures_per_account,
            window: Duration::from_secs(args.login_window_secs),
        },
        login_attempts_per_client: Limit {
            max: args.login_attempts_per_client,
            window: Duration::from_secs(args.login_window_secs),
        },
    };
    Ok(ApiContext::new(db, config, tokens))
}

/// The access-token keys `args` describe.
fn token_keys(args: &ServeArgs) -> anyhow::Result<TokenKeys> {
    let ttl = args.access_token_ttl();
    match args.jwt_algorithm {
        JwtAlgorithm::Hs256 => {
            let secret = match &args.jwt_secret {
                Some(s) if s.len() >= MIN_SECRET_BYTES => s.as_bytes().to_vec(),
                Some(_) => {
                    anyhow::bail!("LMS_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
                }
                None => {
                    tracing::warn!(
                        "LMS_JWT_SECRET is not set: using a random secret; tokens will not survive a restart"
                    );
                    let bytes: [u8; 32] = rand::random();
                    bytes.to_vec()
                }
            };
            TokenKeys::hs256(&secret, args.jwt_issuer.clone(), ttl)
        }
        alg => {
            let read = |p: &Option<std::path::PathBuf>, what: &str| -> anyhow::Result<Vec<u8>> {
                let p = p
                    .as_ref()
                    .with_context(|| format!("{alg:?} needs --jwt-{what}-key-file"))?;
                std::fs::read(p).with_context(|| format!("reading {}", p.display()))
            };
            let algorithm = match alg {
                JwtAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
                _ => jsonwebtoken::Algorithm::EdDSA,
            };
            TokenKeys::asymmetric(
                algorithm,
                &read(&args.jwt_private_key_file, "private")?,
                &read(&args.jwt_public_key_file, "public")?,
                args.jwt_issuer.clone(),
                ttl,
            )
        }
    }
}

/// Where the invalidation listener connects: `--listener-database-url`, or
/// the platform pool's own settings.
pub fn listener_options(db: &Database, args: &ServeArgs) -> anyhow::Result<PgConnectOptions> {
    match &args.listener_database_url {
        Some(url) => PgConnectOptions::from_str(url).context("listener database URL"),
        None => Ok(db.platform_options()),
    }
}

/// A server running in the background.
pub struct RunningServer {
    /// The address it listens on (port 0 resolved).
    pub addr: SocketAddr,
    /// Its state.
    pub ctx: Ctx,
    /// Dropping it (with the server) starts the graceful shutdown.
    _shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    _listener: AbortOnDrop,
    _sweeper: AbortOnDrop,
}

/// Stops a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RunningServer {
    /// Waits until the server stops (after `stop_signal` resolves).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }
}

/// Binds `listen` and serves the API in a background task until the
/// server is dropped or `stop_signal` resolves; in-flight requests are
/// drained. The invalidation listener runs beside it, on its own session
/// connection (`listener`).
pub async fn start(
    ctx: Ctx,
    listen: SocketAddr,
    listener: PgConnectOptions,
    stop_signal: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> anyhow::Result<RunningServer> {
    let acceptor = TcpListener::bind(listen)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("no local address")?;
    let acceptor = crate::slow_clients::HeadDeadline::new(acceptor, ctx.config.header_read_timeout);
    let idle = ctx.config.idle_timeout;
    let listener = AbortOnDrop(lms_api::coherence::spawn_listener(ctx.clone(), listener));
    let sweeper = AbortOnDrop(lms_api::maintenance::spawn_sweeper(ctx.clone()));
    let app = lms_api::build(ctx.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let signal = async move {
            match stop_signal {
                Some(sig) => tokio::select! { _ = sig => {}, _ = rx => {} },
                None => {
                    let _ = rx.await;
                }
            }
        };
        poem::Server::new_with_acceptor(acceptor)
            .idle_timeout(idle)
            .run_with_graceful_shutdown(app, signal, Some(Duration::from_secs(10)))
            .await
    });
    Ok(RunningServer {
        addr,
        ctx,
        _shutdown: tx,
        task,
        _listener: listener,
        _sweeper: sweeper,
    })
}
