//! Authentication: every rejection is a 401 with the same body.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lms_tests::{JWT_ISSUER, JWT_SECRET, PASSWORD, PLATFORM_HOST, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

fn forge(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn login_issues_a_token_that_works_on_its_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = acme.login("  ADMIN@acme.test ", PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["token_type"], "Bearer");
    assert!(a.json["expires_in"].as_u64().unwrap() > 0);
    let token = a.json["access_token"].as_str().unwrap();
    let r = app
        .send(
            Method::GET,
            &acme.host,
            "/api/v1/courses",
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let wrong = acme.login("admin@acme.test", "not the password").await;
    let unknown = acme.login("nobody@acme.test", "not the password").await;
    let malformed = acme.login("not-an-email", "x").await;
    for a in [&wrong, &unknown, &malformed] {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.code(), "invalid_credentials");
    }
    assert_eq!(wrong.json["message"], unknown.json["message"]);
}

#[tokio::test]
async fn a_tenant_admin_cannot_log_in_on_another_tenant() {
    let app = TestApp::spawn().await;
    let _acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let a = globex.login("admin@acme.test", PASSWORD).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_bad_token_gets_the_same_401() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let platform = app.platform_token().await;
    let sid = lms_tests::claims(&acme.token)["sid"].clone();
    let base = |aud: &str, org: Option<Uuid>, exp: i64| {
        json!({ "iss": JWT_ISSUER, "aud": aud, "sub": acme.admin_id, "org": org, "sid": sid,
                "iat": now() - 10, "exp": exp, "jti": Uuid::now_v7() })
    };
    let valid_claims = base("lms-tenant", Some(acme.org_id), now() + 600);
    let header_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let payload = acme.token.split('.').nth(1).unwrap();
    let bad = vec![
        ("garbage", "not.a.token".to_owned()),
        ("alg none", format!("{header_none}.{payload}.")),
        (
            "wrong secret",
            forge(
                valid_claims.clone(),
                Algorithm::HS256,
                "another-secret-another-secret-12",
            ),
        ),
        (
            "HS512 instead of the pinned HS256",
            forge(valid_claims.clone(), Algorithm::HS512, JWT_SECRET),
        ),
        (
            "expired",
            forge(
                base("lms-tenant", Some(acme.org_id), now() - 120),
                Algorithm::HS256,
                JWT_SECRET,
            ),
        ),
        (
            "platform audience",
            forge(
                base("lms-platform", Some(acme.org_id), now() + 600),
                Algorithm::HS256,
                JWT_SECRET,
            ),
        ),
        (
            "no org claim",
            forge(
                base("lms-tenant", None, now() + 600),
                Algorithm::HS256,
                JWT_SECRET,
            ),
        ),
        ("no session", {
            let mut c = valid_claims.clone();
            c.as_object_mut().unwrap().remove("sid");
            forge(c, Algorithm::HS256, JWT_SECRET)
        }),
        ("unknown session", {
            let mut c = valid_claims.clone();
            c["sid"] = json!(Uuid::now_v7());
            forge(c, Algorithm::HS256, JWT_SECRET)
        }),
        ("other issuer", {
            let mut c = valid_claims.clone();
            c["iss"] = json!("someone-else");
            forge(c, Algorithm::HS256, JWT_SECRET)
        }),
        ("another tenant's token", globex.token.clone()),
        ("a platform token", platform.clone()),
    ];
    let mut bodies = Vec::new();
    for (why, token) in bad {
        let a = app
            .send(
                Method::GET,
                &acme.host,
                "/api/v1/courses",
                Some(&token),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{why}: {}", a.text);
        assert_eq!(a.code(), "unauthorized", "{why}");
        bodies.push(a.json["message"].clone());
    }
    let a = app
        .send(Method::GET, &acme.host, "/api/v1/courses", None, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "unauthorized");
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "no hint which check failed"
    );

    // The forged-but-valid control token works, so the checks above failed
    // for the reason they name.
    let ok = forge(valid_claims, Algorithm::HS256, JWT_SECRET);
    assert_eq!(
        app.send(Method::GET, &acme.host, "/api/v1/courses", Some(&ok), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tenant_tokens_are_refused_on_the_platform_host() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let a = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/organizations",
            Some(&acme.token),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "unauthorized");
}

#[tokio::test]
async fn a_deactivated_user_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    assert_eq!(acme.get("/api/v1/courses").await.status, StatusCode::OK);
    // Out of band, in SQL: the database's own notice reaches the server.
    let seen = app.notices();
    let mut su = app.connect_as_superuser().await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(acme.admin_id)
        .execute(&mut su)
        .await
        .unwrap();
    app.until_notices_exceed(seen).await;
    let a = acme.get("/api/v1/courses").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = acme.login("admin@acme.test", PASSWORD).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn platform_login_refuses_bad_credentials() {
    let app = TestApp::spawn().await;
    let _ = app.platform_token().await;
    let a = app
        .send(
            Method::POST,
            PLATFORM_HOST,
            "/platform/v1/auth/token",
            None,
            Some(lms_tests::Body::Json(
                json!({ "email": "nobody@platform.test", "password": PASSWORD }),
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "invalid_credentials");
    let a = app
        .send(
            Method::GET,
            PLATFORM_HOST,
            "/platform/v1/organizations",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[tokio::test]
async fn asymmetric_algorithms_work_and_algorithm_confusion_is_refused() {
    use lms_server::config::JwtAlgorithm;
    for (alg, key) in [
        (JwtAlgorithm::Rs256, "jwt-rs256"),
        (JwtAlgorithm::EdDsa, "jwt-ed25519"),
    ] {
        let app = TestApp::spawn_with(|a| {
            a.jwt_algorithm = alg;
            a.jwt_private_key_file = Some(fixture(&format!("{key}.pem")));
            a.jwt_public_key_file = Some(fixture(&format!("{key}.pub.pem")));
        })
        .await;
        let acme = app.tenant("acme").await;
        assert_eq!(
            acme.get("/api/v1/me").await.status,
            StatusCode::OK,
            "{alg:?} tokens work"
        );
        let header: serde_json::Value = {
            use base64::Engine as _;
            let h = acme.token.split('.').next().unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(h)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            header["alg"],
            if alg == JwtAlgorithm::Rs256 {
                "RS256"
            } else {
                "EdDSA"
            }
        );

        // The public key used as an HMAC secret: the classic confusion.
        let public = std::fs::read_to_string(fixture(&format!("{key}.pub.pem"))).unwrap();
        let mut claims = lms_tests::claims(&acme.token);
        claims["exp"] = json!(now() + 600);
        let confused = forge(claims, Algorithm::HS256, &public);
        let a = acme
            .send_as(&confused, Method::GET, "/api/v1/me", None)
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{alg:?}: HS256 with the public key"
        );
        // And the HS256 test secret means nothing here.
        let hs = forge(lms_tests::claims(&acme.token), Algorithm::HS256, JWT_SECRET);
        assert_eq!(
            acme.send_as(&hs, Method::GET, "/api/v1/me", None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}
