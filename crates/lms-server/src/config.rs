//! Configuration: one typed struct filled by clap from flags and environment
//! variables. `lms --help` lists every setting; so does the README.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Tenantry LMS: a multi-tenant learning-management backend.
#[derive(Debug, Parser)]
#[command(name = "lms", version, about)]
pub struct Cli {
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Database settings.
    #[command(flatten)]
    pub db: DbArgs,
    /// Log format.
    #[arg(long, env = "LMS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve(Box<ServeArgs>),
    /// Apply roles, migrations and policies to the database, then exit.
    Migrate,
    /// Write the OpenAPI documents to a folder (default `openapi/`).
    Openapi {
        /// Folder to write `tenant.json` and `platform.json` into.
        #[arg(long, default_value = "openapi")]
        out: PathBuf,
    },
    /// Load an organization exported by another installation (ids kept).
    Import {
        /// The archive from `GET /platform/v1/organizations/{id}/export`.
        file: PathBuf,
        /// Serve it under this slug instead of the one it had.
        #[arg(long)]
        slug: Option<String>,
    },
    /// Generate a realistic dataset (new tenants with users, courses,
    /// enrollments, progress, sessions and reviews), deterministic from a
    /// seed, loaded with COPY. Defaults: the benchmark scale.
    Generate(GenerateArgs),
    /// Serve the benchmark's static-body ceiling (`GET /bytes/{n}`).
    #[command(hide = true)]
    Ceiling {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:18101")]
        listen: std::net::SocketAddr,
    },
    /// Create a platform admin (the first one is made this way).
    CreatePlatformAdmin {
        /// Login e-mail.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "Platform admin")]
        name: String,
        /// Password (10–256 characters).
        #[arg(long, env = "LMS_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

/// What `lms generate` makes.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Organizations (sizes skewed: a few large ones, a long tail).
    #[arg(long, default_value_t = 1_000)]
    pub tenants: u32,
    /// Users in all.
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Courses in all.
    #[arg(long, default_value_t = 20_000)]
    pub courses: u64,
    /// Progress rows in all (approximately).
    #[arg(long, default_value_t = 5_000_000)]
    pub progress: u64,
    /// Seed: the same seed and day give the same rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Slug prefix of the new organizations (`t` gives t0001, t0002, …).
    #[arg(long, default_value = "t")]
    pub prefix: String,
    /// Every generated user's password.
    #[arg(long, default_value = "generated-password")]
    pub password: String,
}

/// Access-token algorithms.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with `--jwt-secret`.
    #[value(name = "HS256")]
    Hs256,
    /// RSA-SHA256 with a key pair from files.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519 with a key pair from files.
    #[value(name = "EdDSA")]
    EdDsa,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (production).
    Json,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Administrative URL: runs migrations and creates roles. Unset: a local
    /// cluster is started in `--data-dir` (embedded mode).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// URL of the runtime tenant role. Default: `DATABASE_URL` with the user
    /// `lms_app` and no password.
    #[arg(
        long,
        env = "LMS_APP_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub app_database_url: Option<String>,
    /// URL of the platform role. Default: `DATABASE_URL` with the user
    /// `lms_platform` and no password.
    #[arg(
        long,
        env = "LMS_PLATFORM_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub platform_database_url: Option<String>,
    /// Data folder of the embedded cluster.
    #[arg(long, env = "LMS_DATA_DIR", default_value = ".lms-data", global = true)]
    pub data_dir: PathBuf,
    /// Connections of the tenant pool.
    #[arg(
        long,
        env = "LMS_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LMS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Tenants are served at `<slug>.<base domain>`.
    #[arg(long, env = "LMS_BASE_DOMAIN", default_value = "localhost")]
    pub base_domain: String,
    /// How clients reach the service, scheme and port (e.g.
    /// `https://lms.example.com`, behind a TLS proxy): organizations'
    /// `api_url` is built from it. Default: plain http on the listening port.
    #[arg(long, env = "LMS_PUBLIC_BASE_URL")]
    pub public_base_url: Option<url::Url>,
    /// Host of the platform API. Default: `admin.<base domain>`.
    #[arg(long, env = "LMS_PLATFORM_HOST")]
    pub platform_host: Option<String>,
    /// Web origins whose pages may call the platform API from a browser
    /// (comma-separated, `https://console.example.com`); none by default.
    #[arg(long, env = "LMS_PLATFORM_CORS_ORIGINS", value_delimiter = ',')]
    pub platform_cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-Host` is believed (comma-separated IPs).
    #[arg(long, env = "LMS_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Addresses allowed to read `/metrics` on the platform host
    /// (comma-separated IPs).
    #[arg(
        long,
        env = "LMS_METRICS_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.1,::1"
    )]
    pub metrics_allow: Vec<IpAddr>,
    /// HS256 secret for access tokens (at least 32 bytes). Unset: a random
    /// one per process, so tokens do not survive a restart and replicas do
    /// not accept each other's tokens.
    #[arg(long, env = "LMS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Signing algorithm of access tokens; only this one is accepted.
    #[arg(long, env = "LMS_JWT_ALGORITHM", value_enum, default_value_t = JwtAlgorithm::Hs256)]
    pub jwt_algorithm: JwtAlgorithm,
    /// PEM private key (RS256 or EdDSA).
    #[arg(long, env = "LMS_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// PEM public key (RS256 or EdDSA).
    #[arg(long, env = "LMS_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// `iss` of access tokens.
    #[arg(long, env = "LMS_JWT_ISSUER", default_value = "tenantry-lms")]
    pub jwt_issuer: String,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "LMS_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "LMS_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
    /// Failed logins allowed per account (host and e-mail) and client
    /// address per window; past it, that address is refused for the rest of
    /// the window.
    #[arg(long, env = "LMS_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 5)]
    pub login_failures_per_address: u32,
    /// Failed logins allowed per account per window from addresses it has
    /// not logged in from (each one past the per-address limit waits longer);
    /// past it, only addresses it logged in from get through.
    #[arg(long, env = "LMS_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 50)]
    pub login_failures_per_account: u32,
    /// Login attempts allowed per client address per window.
    #[arg(long, env = "LMS_LOGIN_ATTEMPTS_PER_CLIENT", default_value_t = 50)]
    pub login_attempts_per_client: u32,
    /// Length of the login-limit window, in seconds.
    #[arg(long, env = "LMS_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,
    /// How long a host → tenant answer is cached, in seconds.
    #[arg(long, env = "LMS_TENANT_CACHE_TTL_SECS", default_value_t = 30)]
    pub tenant_cache_ttl_secs: u64,
    /// How long an authorized caller (roles, session) is cached, in seconds.
    /// Changes reach every replica at once through the invalidation
    /// listener; this only bounds how long a lost notice could matter.
    #[arg(long, env = "LMS_ACTOR_CACHE_TTL_SECS", default_value_t = 30)]
    pub actor_cache_ttl_secs: u64,
    /// How long a replica stays ready while its invalidation listener is
    /// disconnected, in seconds (it does not answer from its caches meanwhile).
    #[arg(long, env = "LMS_LISTENER_GRACE_SECS", default_value_t = 10)]
    pub listener_grace_secs: u64,
    /// URL of the session connection that `LISTEN`s for invalidations. It
    /// must reach PostgreSQL directly or through a session-mode pooler
    /// (`LISTEN` does not work through transaction pooling). Default: the
    /// platform URL.
    #[arg(long, env = "LMS_LISTENER_DATABASE_URL", hide_env_values = true)]
    pub listener_database_url: Option<String>,
    /// Largest total size of the catalog cache, in bytes (approximate).
    #[arg(long, env = "LMS_CATALOG_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub catalog_cache_bytes: u64,
    /// Longest life of a catalog cache entry, in seconds.
    #[arg(long, env = "LMS_CATALOG_CACHE_TTL_SECS", default_value_t = 300)]
    pub catalog_cache_ttl_secs: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "LMS_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest archive the platform API's import accepts, in bytes (it is
    /// held in memory while it loads; `lms import FILE` takes any size).
    #[arg(long, env = "LMS_MAX_IMPORT_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_import_bytes: usize,
    /// Longest time a request may take before it is answered 503
    /// `request_timeout`, in milliseconds (the handler still runs to its
    /// end: a write is applied whole or not at all).
    #[arg(long, env = "LMS_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Longest time a new connection may take to send the head of its
    /// first request (request line and headers), in milliseconds; a slower
    /// client is disconnected.
    #[arg(long, env = "LMS_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection with no traffic for this long is closed, in
    /// seconds.
    #[arg(long, env = "LMS_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// In embedded mode, do not create the demo tenant and admins.
    #[arg(long, env = "LMS_NO_DEMO")]
    pub no_demo: bool,
}

#[derive(Parser)]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

impl ServeArgs {
    /// The settings of `serve` from the environment and the defaults alone:
    /// what plain `lms` (no subcommand) runs with.
    pub fn from_env() -> Self {
        ServeOnly::parse_from(["lms"]).args
    }

    /// The scheme and port (when not the scheme's default) clients use.
    pub fn public_scheme_and_port(&self) -> (String, Option<u16>) {
        match &self.public_base_url {
            Some(u) => (u.scheme().to_owned(), u.port()),
            None => {
                let port = self.listen.port();
                ("http".to_owned(), (port != 80 && port != 0).then_some(port))
            }
        }
    }

    /// The platform host, defaulted.
    pub fn platform_host(&self) -> String {
        self.platform_host
            .clone()
            .unwrap_or_else(|| format!("admin.{}", self.base_domain))
    }

    /// Access-token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }
}
