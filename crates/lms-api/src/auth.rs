//! Passwords (argon2id) and access tokens (JWT).
//!
//! Tokens carry an audience that separates the platform from tenants, and
//! tenant tokens an `org` claim that must equal the tenant resolved from the
//! Host: a token of tenant A presented to tenant B is refused exactly like a
//! forged one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Audience of tokens for tenant hosts.
pub const TENANT_AUDIENCE: &str = "lms-tenant";
/// Audience of tokens for the platform host.
pub const PLATFORM_AUDIENCE: &str = "lms-platform";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (bounds the hashing work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password's length (characters, not bytes).
pub fn check_new_password(
    field: &'static str,
    password: &str,
) -> Result<(), lms_domain::InputError> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(lms_domain::InputError::new(
            field,
            "must be 10-256 characters",
        ))
    }
}

/// Hashes a password with argon2id and a random salt. CPU-heavy: call from
/// a blocking thread ([`hash_password_async`]).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

thread_local! {
    /// The argon2 working memory of this thread, reused from one hash to
    /// the next (19 MiB with the default parameters).
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest argon2 memory cost accepted in a stored hash (KiB): four times
/// the default. A hash asking for more is refused rather than allowed to
/// allocate without bound.
const MAX_M_COST: u32 = 4 * argon2::Params::DEFAULT_M_COST;
/// Most passes a stored hash may ask for (hashes can arrive from elsewhere,
/// in an imported organization: one must not hold a hashing thread, which
/// every tenant's logins share, for ever).
const MAX_T_COST: u32 = 4 * argon2::Params::DEFAULT_T_COST;
/// Most lanes a stored hash may ask for.
const MAX_P_COST: u32 = 4 * argon2::Params::DEFAULT_P_COST;

/// Whether `password` matches the PHC string `hash`, computed in this
/// thread's reused working memory. A malformed hash, or one with parameters
/// out of bounds, is a mismatch that still costs one default hash, so it
/// cannot be told apart by time.
fn verify_in_place(password: &[u8], hash: &str) -> bool {
    match checked(password, hash) {
        Some(ok) => ok,
        None => {
            let _ = checked(password, dummy_hash());
            false
        }
    }
}

/// `Some(matches)`, or `None` when `hash` is not a usable argon2 hash.
fn checked(password: &[u8], hash: &str) -> Option<bool> {
    use argon2::password_hash::{Output, Salt};
    let parsed = PasswordHash::new(hash).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let params = argon2::Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST
    {
        return None;
    }
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map(argon2::Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes).ok()?;
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    MEMORY
        .with(|m| {
            let mut m = m.borrow_mut();
            if m.len() < blocks {
                m.resize(blocks, argon2::Block::default());
            }
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                password,
                salt,
                &mut out,
                &mut m[..blocks],
            )
        })
        .ok()?;
    // `Output` compares in constant time.
    Some(Output::new(&out).is_ok_and(|o| o == expected))
}

/// The password hashers: one thread per core, fed through a queue. Hashing
/// is CPU-bound, so more at once adds no throughput, only memory (each hash
/// takes argon2's 19 MiB, which a thread's allocator keeps for its next
/// one): with a fixed set of threads, a burst of logins waits its turn and
/// the process keeps a bounded few of those blocks instead of growing by
/// gigabytes.
type Job = Box<dyn FnOnce() + Send>;

fn hashers() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static QUEUE: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("lms-hasher-{n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A job that panics loses its answer (the
                            // caller sees an error), not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                });
        }
        std::sync::Mutex::new(tx)
    })
}

/// Runs `work` on a hasher thread.
async fn on_hasher<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // The request was abandoned while queued: nobody wants the answer.
        if !done.is_closed() {
            let _ = done.send(work());
        }
    });
    hashers()
        .lock()
        .map_err(|_| anyhow::anyhow!("the password hashers are gone"))?
        .send(job)
        .map_err(|_| anyhow::anyhow!("the password hashers are gone"))?;
    Ok(result.await?)
}

/// [`hash_password`] on a hasher thread.
pub async fn hash_password_async(password: String) -> anyhow::Result<String> {
    Ok(on_hasher(move || hash_password(&password)).await??)
}

/// Verifies `password` against `hash`, on a hasher thread. With no hash
/// (unknown user, or no password set) a dummy hash is verified instead, so
/// an unknown e-mail takes as long as a wrong password.
pub async fn verify_password_async(password: String, hash: Option<String>) -> bool {
    on_hasher(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        verify_in_place(password.as_bytes(), &hash) && known
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no user has this password").expect("hashing a constant"))
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience: [`TENANT_AUDIENCE`] or [`PLATFORM_AUDIENCE`].
    pub aud: String,
    /// The user (or platform admin) id.
    pub sub: Uuid,
    /// The organization, on tenant tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<Uuid>,
    /// The login session; revoking it stops the token at once.
    pub sid: Uuid,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
    /// Token id.
    pub jti: Uuid,
}

/// A new secret token (refresh tokens, confirmations): 256 random bits,
/// base64url. Returns the token (for the client) and its SHA-256 digest
/// (for storage).
pub fn new_secret_token() -> (String, Vec<u8>) {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = secret_token_digest(&token);
    (token, digest)
}

/// The stored form of a secret token.
pub fn secret_token_digest(token: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Signs and checks access tokens. The algorithm is pinned: a token naming
/// any other (`none` included) is refused.
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl: Duration,
    /// Tokens verified lately, by their text: a token's signature and
    /// claims are checked once, then only its expiry on each use.
    verified: moka::sync::Cache<String, Arc<Claims>>,
}

/// Tokens whose verification is remembered (a few MB).
const VERIFIED_TOKENS: u64 = 10_000;
/// Seconds of clock difference allowed on expiry.
const LEEWAY_SECS: i64 = 5;

/// The cache of verified tokens: none outlives the lifetime of a token.
fn verified_cache(ttl: Duration) -> moka::sync::Cache<String, Arc<Claims>> {
    moka::sync::Cache::builder()
        .max_capacity(VERIFIED_TOKENS)
        .time_to_live(ttl + Duration::from_secs(LEEWAY_SECS as u64))
        .build()
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TokenKeys {
    /// HS256 keys from a shared secret.
    pub fn hs256(secret: &[u8], issuer: impl Into<String>, ttl: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            issuer: issuer.into(),
            ttl,
            verified: verified_cache(ttl),
        })
    }

    /// RS256 or EdDSA keys from PEM files: a private key to sign, a public
    /// key to verify. Only `algorithm` is accepted on incoming tokens, so a
    /// token signed with HS256 using the public key as the secret (the
    /// classic algorithm confusion) is refused.
    pub fn asymmetric(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
        issuer: impl Into<String>,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let (encoding, decoding) = match algorithm {
            Algorithm::RS256 => (
                EncodingKey::from_rsa_pem(private_pem)?,
                DecodingKey::from_rsa_pem(public_pem)?,
            ),
            Algorithm::EdDSA => (
                EncodingKey::from_ed_pem(private_pem)?,
                DecodingKey::from_ed_pem(public_pem)?,
            ),
            other => anyhow::bail!("unsupported asymmetric token algorithm {other:?}"),
        };
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            issuer: issuer.into(),
            ttl,
            verified: verified_cache(ttl),
        })
    }

    /// The one algorithm tokens are signed and accepted with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Lifetime of an access token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `sub` in session `sid` with `audience`, bound to
    /// `org` on tenant tokens.
    pub fn issue(
        &self,
        audience: &str,
        sub: Uuid,
        org: Option<Uuid>,
        sid: Uuid,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            sub,
            org,
            sid,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: Uuid::now_v7(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, issuer, audience and expiry. A token
    /// verified before is not checked again, only its audience and expiry
    /// (what changes with time); a refused one is checked every time.
    pub fn verify(&self, token: &str, audience: &str) -> Option<Arc<Claims>> {
        self.verify_at(token, audience, chrono::Utc::now().timestamp())
    }

    fn verify_at(&self, token: &str, audience: &str, now: i64) -> Option<Arc<Claims>> {
        if let Some(claims) = self.verified.get(token) {
            return (claims.aud == audience && claims.exp >= now - LEEWAY_SECS).then_some(claims);
        }
        let mut v = Validation::new(self.algorithm);
        v.set_audience(&[audience]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "sid"]);
        v.leeway = LEEWAY_SECS as u64;
        v.validate_nbf = true;
        let claims = Arc::new(
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
                .ok()?
                .claims,
        );
        self.verified.insert(token.to_owned(), claims.clone());
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_still_expires_and_keeps_its_audience() {
        let keys = TokenKeys::hs256(
            b"a secret of at least thirty-two bytes!!",
            "tenantry-lms",
            Duration::from_secs(60),
        )
        .unwrap();
        let token = keys
            .issue(
                TENANT_AUDIENCE,
                Uuid::now_v7(),
                Some(Uuid::now_v7()),
                Uuid::now_v7(),
            )
            .unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!(keys.verify_at(&token, TENANT_AUDIENCE, now).is_some());
        // Remembered now: still refused past its expiry, and elsewhere.
        assert!(keys.verified.get(&token).is_some());
        assert!(keys.verify_at(&token, TENANT_AUDIENCE, now + 30).is_some());
        assert!(
            keys.verify_at(&token, TENANT_AUDIENCE, now + 60 + LEEWAY_SECS + 1)
                .is_none()
        );
        assert!(keys.verify_at(&token, PLATFORM_AUDIENCE, now).is_none());
        // A token altered by one character is not the remembered one.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(keys.verify_at(&forged, TENANT_AUDIENCE, now).is_none());
        assert!(keys.verified.get(&forged).is_none());
    }

    #[test]
    fn verifying_in_reused_memory_agrees_with_argon2() {
        use argon2::password_hash::PasswordVerifier;
        let hash = hash_password("correct horse battery").unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        for (guess, ok) in [
            ("correct horse battery", true),
            ("correct horse batterY", false),
        ] {
            let reference = Argon2::default()
                .verify_password(guess.as_bytes(), &parsed)
                .is_ok();
            assert_eq!(reference, ok);
            // Twice: the second runs in the memory the first left behind.
            assert_eq!(verify_in_place(guess.as_bytes(), &hash), ok);
            assert_eq!(verify_in_place(guess.as_bytes(), &hash), ok);
        }
        // Other parameters, and malformed hashes, are handled.
        let light = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let other = light.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_in_place(b"pw", &other));
        assert!(!verify_in_place(b"pw", "not a hash"));
        // A memory cost beyond the bound is refused, not allocated (4 GiB).
        let greedy = other.replace("m=8192", "m=4194304");
        assert_ne!(greedy, other);
        assert!(!verify_in_place(b"pw", &greedy));
        // So are passes and lanes beyond theirs (a hash from an imported
        // archive would otherwise hold a hashing thread for ever).
        for (from, to) in [("t=1", "t=4294967295"), ("p=1", "p=16777215")] {
            let slow = other.replace(from, to);
            assert_ne!(slow, other);
            assert_eq!(checked(b"pw", &slow), None, "{to}");
        }
        assert!(!verify_in_place(
            b"pw",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$"
        ));
    }

    fn keys() -> TokenKeys {
        TokenKeys::hs256(
            b"0123456789abcdef0123456789abcdef",
            "lms-test",
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[test]
    fn audience_and_issuer_are_enforced() {
        let k = keys();
        let t = k
            .issue(
                TENANT_AUDIENCE,
                Uuid::now_v7(),
                Some(Uuid::now_v7()),
                Uuid::now_v7(),
            )
            .unwrap();
        assert!(k.verify(&t, TENANT_AUDIENCE).is_some());
        assert!(k.verify(&t, PLATFORM_AUDIENCE).is_none());
        let other = TokenKeys::hs256(
            b"0123456789abcdef0123456789abcdef",
            "elsewhere",
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(other.verify(&t, TENANT_AUDIENCE).is_none());
    }

    #[test]
    fn alg_none_and_tampering_are_refused() {
        let k = keys();
        let t = k
            .issue(TENANT_AUDIENCE, Uuid::now_v7(), None, Uuid::now_v7())
            .unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        // {"alg":"none","typ":"JWT"}
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
        assert!(k.verify(&none, TENANT_AUDIENCE).is_none());
        let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
        assert!(k.verify(&tampered, TENANT_AUDIENCE).is_none());
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(verify_password_async(
            "correct horse battery".into(),
            Some(h.clone())
        )));
        assert!(!rt.block_on(verify_password_async("wrong".into(), Some(h))));
        assert!(!rt.block_on(verify_password_async(
            "no user has this password".into(),
            None
        )));
    }
}
