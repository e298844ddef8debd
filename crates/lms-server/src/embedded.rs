//! Embedded mode: with no `DATABASE_URL`, the service runs on a private
//! cluster kept in a data folder, and (unless told not to) makes a demo
//! tenant and the admins to try it with.

use std::path::Path;

use anyhow::Context;
use lms_api::auth::hash_password_async;
use lms_api::provision::{NewOrganization, create_organization, create_platform_admin};
use lms_db::Database;
use lms_db::cluster::{ClusterOptions, LocalCluster};
use lms_domain::{Email, PersonName, Slug, Title};
use sqlx::{Connection, PgConnection};

/// Name of the embedded database.
pub const DATABASE: &str = "lms";
/// The demo tenant's slug.
pub const DEMO_SLUG: &str = "demo";
/// Demo tenant admin.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.test";
/// Seed of the demo tenant's sample.
const DEMO_SEED: u64 = 7;
/// A demo learner (`learner0` … `learner23`, same password).
pub const DEMO_LEARNER_EMAIL: &str = "learner0@demo.example.com";
/// Demo platform admin.
pub const DEMO_OPERATOR_EMAIL: &str = "operator@platform.test";
/// Password of both demo accounts. The embedded cluster listens on loopback
/// only; this is a local demo, not a deployment.
pub const DEMO_PASSWORD: &str = "demo-password";

/// Starts (or reuses) the cluster in `data_dir` and makes sure the `lms`
/// database exists. Returns the cluster and its administrative URL.
pub async fn start(data_dir: &Path) -> anyhow::Result<(LocalCluster, String)> {
    let opts = ClusterOptions {
        data_dir: data_dir.to_path_buf(),
        ephemeral: false,
        bin_dir: None,
    };
    let cluster = tokio::task::spawn_blocking(move || LocalCluster::start(&opts)).await??;
    let mut conn = PgConnection::connect(&cluster.superuser_url("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::query("CREATE DATABASE lms")
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    let url = cluster.superuser_url(DATABASE);
    Ok((cluster, url))
}

/// Creates the demo tenant, with a small living sample of courses,
/// learners and their progress, and the demo platform admin, once.
pub async fn ensure_demo(db: &Database, admin_url: &str) -> anyhow::Result<()> {
    let mut tx = db.platform().await?;
    let exists = lms_db::queries::orgs::resolve_slug(&mut tx, DEMO_SLUG)
        .await?
        .is_some();
    tx.commit().await?;
    if exists {
        return Ok(());
    }
    let hash = hash_password_async(DEMO_PASSWORD.to_owned()).await?;
    let demo = NewOrganization {
        slug: Slug::parse("slug", DEMO_SLUG)?,
        name: Title::parse("name", "Demo Academy")?,
        domains: vec![],
        admin_email: Email::parse("email", DEMO_ADMIN_EMAIL)?,
        admin_first_name: PersonName::parse("first_name", "Demo")?,
        admin_last_name: PersonName::parse("last_name", "Admin")?,
        admin_password_hash: hash.clone(),
    };
    let (org, _) = create_organization(db, &demo)
        .await
        .context("creating the demo tenant")?;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await?;
    lms_db::generate::populate(
        &mut conn,
        DEMO_SEED,
        org.id,
        DEMO_SLUG,
        lms_db::generate::TenantSize::DEMO,
        &hash,
        lms_db::generate::start_of_day(chrono::Utc::now()),
    )
    .await
    .context("filling the demo tenant")?;
    create_platform_admin(
        db,
        &Email::parse("email", DEMO_OPERATOR_EMAIL)?,
        "Demo operator",
        &hash,
    )
    .await
    .context("creating the demo platform admin")?;
    Ok(())
}
