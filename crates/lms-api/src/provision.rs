//! Creating an organization with its default roles and first admin: one
//! transaction, used by the platform API, the demo bootstrap and the tests.

use lms_db::queries::orgs::{self, OrgRow};
use lms_db::queries::platform_admins;
use lms_db::queries::users::{self, NewUser};
use lms_db::{Database, DbError, PlatformTx, TenantTx};
use lms_domain::{ADMIN_ROLE_NAME, Email, OrgId, PersonName, PlatformAdminId, Slug, Title, UserId};

/// A validated new organization.
#[derive(Debug)]
pub struct NewOrganization {
    /// Subdomain label.
    pub slug: Slug,
    /// Display name.
    pub name: Title,
    /// Normalised custom domains.
    pub domains: Vec<String>,
    /// First admin's e-mail.
    pub admin_email: Email,
    /// First admin's given name.
    pub admin_first_name: PersonName,
    /// First admin's family name.
    pub admin_last_name: PersonName,
    /// First admin's password hash (argon2id).
    pub admin_password_hash: String,
}

/// Creates the organization, its domains, its default roles and its first
/// admin (holding the `admin` role), atomically.
pub async fn create_organization(
    db: &Database,
    new: &NewOrganization,
) -> Result<(OrgRow, UserId), DbError> {
    let mut tx = db.platform().await?;
    let org = OrgId::new();
    let row = register(&mut tx, org, new).await?;
    let mut tx = tx.into_tenant(org).await?;
    let admin = seed(&mut tx, new).await?;
    tx.commit().await?;
    Ok((row, admin))
}

/// The registry half of a new organization: its row and its domains.
pub async fn register(
    tx: &mut PlatformTx,
    org: OrgId,
    new: &NewOrganization,
) -> Result<OrgRow, DbError> {
    let mut row = orgs::create(tx, org, new.slug.as_str(), new.name.as_str()).await?;
    for d in &new.domains {
        orgs::add_domain(tx, org, d, &new_verification_token()).await?;
    }
    row.domains = new.domains.clone();
    Ok(row)
}

/// A custom domain's verification token: 128 random bits, hex.
pub fn new_verification_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tenant half of a new organization, inside it: the default roles and
/// the first admin, who holds the `admin` role.
pub async fn seed(tx: &mut TenantTx, new: &NewOrganization) -> Result<UserId, DbError> {
    let admin = UserId::new();
    users::seed_organization(
        tx,
        &NewUser {
            id: admin,
            email: new.admin_email.as_str(),
            first_name: new.admin_first_name.as_str(),
            last_name: new.admin_last_name.as_str(),
            password_hash: Some(&new.admin_password_hash),
        },
        ADMIN_ROLE_NAME,
    )
    .await?;
    Ok(admin)
}

/// Creates a platform admin with the `OPERATOR` role (the first admin of an
/// installation, from the command line).
pub async fn create_platform_admin(
    db: &Database,
    email: &Email,
    display_name: &str,
    password_hash: &str,
) -> Result<PlatformAdminId, DbError> {
    let mut tx = db.platform().await?;
    let id = PlatformAdminId::new();
    platform_admins::create(
        &mut tx,
        id,
        email.as_str(),
        display_name,
        password_hash,
        "OPERATOR",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
