//! The `lms` binary.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use lms_api::auth::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, hash_password_async};
use lms_domain::Email;
use lms_server::config::{Cli, Command, DbArgs, GenerateArgs, ServeArgs};
use lms_server::{embedded, startup, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _log_writer = telemetry::init(cli.log_format);
    match cli.command {
        None => serve(&cli.db, ServeArgs::from_env()).await,
        Some(Command::Serve(args)) => serve(&cli.db, *args).await,
        Some(Command::Migrate) => {
            let (_cluster, admin) = admin_url(&cli.db).await?;
            lms_db::migrate::run(&admin).await?;
            tracing::info!("database migrated");
            Ok(())
        }
        Some(Command::Openapi { out }) => {
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join("tenant.json"), lms_api::tenant_spec() + "\n")?;
            std::fs::write(out.join("platform.json"), lms_api::platform_spec() + "\n")?;
            tracing::info!(folder = %out.display(), "OpenAPI documents written");
            Ok(())
        }
        Some(Command::Import { file, slug }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let archive = lms_api::portable::read(&bytes)
                .with_context(|| format!("reading the archive {}", file.display()))?;
            if let Some(s) = &slug {
                lms_domain::Slug::parse("slug", s)?;
            }
            let (_cluster, admin) = admin_url(&cli.db).await?;
            lms_db::migrate::run(&admin).await?;
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
            let org = lms_db::queries::portable::import(
                &mut conn,
                &archive.organization,
                slug.as_deref(),
                &archive.tables,
            )
            .await
            .map_err(|e| anyhow::anyhow!("importing: {e}"))?;
            let rows: u64 = archive.tables.iter().map(|t| t.rows).sum();
            tracing::info!(%org, rows, "organization imported");
            Ok(())
        }
        Some(Command::Generate(args)) => generate(&cli.db, args).await,
        Some(Command::Ceiling { listen }) => lms_server::ceiling::serve(listen).await,
        Some(Command::CreatePlatformAdmin {
            email,
            name,
            password,
        }) => {
            let email = Email::parse("email", &email)?;
            let chars = password.chars().count();
            anyhow::ensure!(
                (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars),
                "the password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
            );
            let (_cluster, admin) = admin_url(&cli.db).await?;
            lms_db::migrate::run(&admin).await?;
            let db = connect(&cli.db, &admin).await?;
            let hash = hash_password_async(password).await?;
            let id = lms_api::provision::create_platform_admin(&db, &email, &name, &hash)
                .await
                .map_err(|e| anyhow::anyhow!("creating the platform admin: {e}"))?;
            tracing::info!(%id, email = %email, "platform admin created");
            Ok(())
        }
    }
}

/// The administrative URL: `DATABASE_URL`, or the embedded cluster's (which
/// is then kept running as long as the returned guard lives).
async fn admin_url(db: &DbArgs) -> anyhow::Result<(Option<lms_db::cluster::LocalCluster>, String)> {
    match &db.database_url {
        Some(url) => Ok((None, url.clone())),
        None => {
            let (cluster, url) = embedded::start(&db.data_dir).await.context(
                "starting the embedded PostgreSQL (set DATABASE_URL to use another server)",
            )?;
            Ok((Some(cluster), url))
        }
    }
}

async fn connect(db: &DbArgs, admin: &str) -> anyhow::Result<lms_db::Database> {
    let app = match &db.app_database_url {
        Some(u) => u.clone(),
        None => startup::role_url(admin, "lms_app")?,
    };
    let platform = match &db.platform_database_url {
        Some(u) => u.clone(),
        None => startup::role_url(admin, "lms_platform")?,
    };
    startup::connect(&app, &platform, db.db_max_connections).await
}

async fn serve(db_args: &DbArgs, args: ServeArgs) -> anyhow::Result<()> {
    let (cluster, admin) = admin_url(db_args).await?;
    lms_db::migrate::run_on_start(&admin)
        .await
        .context("migrating the database")?;
    let db = connect(db_args, &admin).await?;
    let demo = cluster.is_some() && !args.no_demo;
    if demo {
        embedded::ensure_demo(&db, &admin).await?;
    }
    let ctx = startup::api_context(db.clone(), &args)?;
    let listener = startup::listener_options(&db, &args)?;
    let server = startup::start(
        ctx,
        args.listen,
        listener,
        Some(Box::pin(shutdown_signal())),
    )
    .await?;
    print_welcome(&args, server.addr, demo);
    server.wait().await?;
    db.close().await;
    drop(cluster);
    tokio::time::sleep(Duration::from_millis(10)).await;
    tracing::info!("stopped");
    Ok(())
}

/// `lms generate`: the dataset, with a progress bar on the terminal.
async fn generate(db: &DbArgs, args: GenerateArgs) -> anyhow::Result<()> {
    use lms_db::generate::{self, Scale};
    lms_domain::Slug::parse("prefix", &format!("{}0001", args.prefix))?;
    let (_cluster, admin) = admin_url(db).await?;
    lms_db::migrate::run(&admin).await?;
    let hash = hash_password_async(args.password.clone()).await?;
    let scale = Scale {
        tenants: args.tenants,
        users: args.users,
        courses: args.courses,
        progress: args.progress,
    };
    let bar = indicatif::ProgressBar::new(u64::from(scale.tenants)).with_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} tenants {msg}",
        )?
        .progress_chars("=> "),
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
    let as_of = generate::start_of_day(chrono::Utc::now());
    let totals = generate::generate(
        &mut conn,
        args.seed,
        &scale,
        &args.prefix,
        &hash,
        as_of,
        |t| {
            bar.set_position(t.tenants);
            bar.set_message(format!(
                "{} users, {} courses, {} progress rows",
                t.users, t.courses, t.progress
            ));
        },
    )
    .await?;
    bar.finish();
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    tracing::info!(?totals, "dataset generated");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: draining in-flight requests");
}

#[allow(clippy::print_stdout)]
fn print_welcome(args: &ServeArgs, addr: std::net::SocketAddr, demo: bool) {
    let port = addr.port();
    let base = &args.base_domain;
    let platform = args.platform_host();
    println!();
    println!("Tenantry LMS is listening on {addr}");
    println!("  platform API docs: http://{platform}:{port}/docs");
    if demo {
        let tenant = format!("{}.{base}:{port}", embedded::DEMO_SLUG);
        println!("  demo tenant docs:  http://{tenant}/docs");
        println!();
        println!("Get a tenant token (demo admin):");
        println!(
            "  curl -s http://{tenant}/api/v1/auth/token -H 'content-type: application/json' \\\n    -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            embedded::DEMO_ADMIN_EMAIL,
            embedded::DEMO_PASSWORD
        );
        println!(
            "  (a demo learner: {}, same password; the catalog has sample courses)",
            embedded::DEMO_LEARNER_EMAIL
        );
        println!("Get a platform token (demo operator):");
        println!(
            "  curl -s http://{platform}:{port}/platform/v1/auth/token -H 'content-type: application/json' \\\n    -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'",
            embedded::DEMO_OPERATOR_EMAIL,
            embedded::DEMO_PASSWORD
        );
    }
    println!();
}
