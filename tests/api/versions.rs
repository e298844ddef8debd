//! Published versions: listed, read whole, compared, and immutable.

use lms_tests::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn versions_are_kept_whole_compared_and_never_changed() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let course = acme.create_course("Versioned").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    let id = |a: lms_tests::Answer| a.json["id"].as_str().unwrap().to_owned();
    let l1 = id(acme
        .post(&format!("{path}/lessons"), json!({ "title": "L1" }))
        .await);
    let s1 = id(acme
        .post(
            &format!("{path}/lessons/{l1}/sections"),
            json!({ "title": "S1" }),
        )
        .await);
    let s2 = id(acme
        .post(
            &format!("{path}/lessons/{l1}/sections"),
            json!({ "title": "S2" }),
        )
        .await);
    let first = acme.post(&format!("{path}/publish"), json!({})).await.json["version"]
        .as_i64()
        .unwrap();
    let (lea_id, lea) = acme.user_with_role("lea@acme.test", "learner").await;
    let lea_enrollment = acme
        .send_as(
            &lea,
            reqwest::Method::POST,
            &format!("{path}/enrollment"),
            None,
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The draft moves on; the next publish is another version.
    acme.patch(
        &format!("{path}/lessons/{l1}/sections/{s1}"),
        json!({ "title": "S1, rewritten" }),
    )
    .await;
    acme.delete(&format!("{path}/lessons/{l1}/sections/{s2}"))
        .await;
    let l2 = id(acme
        .post(&format!("{path}/lessons"), json!({ "title": "L2" }))
        .await);
    let s3 = id(acme
        .post(
            &format!("{path}/lessons/{l2}/sections"),
            json!({ "title": "S3" }),
        )
        .await);
    let second = acme.post(&format!("{path}/publish"), json!({})).await.json["version"]
        .as_i64()
        .unwrap();

    let list = acme.get(&format!("{path}/versions")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|v| (
                v["version"].as_i64().unwrap(),
                v["learners"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [(second, 0), (first, 1)]
    );
    let old = acme.get(&format!("{path}/versions/{first}")).await;
    assert_eq!(old.json["schema_version"], 1, "{}", old.text);
    assert_eq!(
        ids(&old.json["tree"]["lessons"][0]["sections"]),
        [s1.clone(), s2.clone()]
    );
    assert_eq!(old.json["tree"]["lessons"][0]["sections"][0]["title"], "S1");

    let d = acme
        .get(&format!("{path}/versions/{first}/diff/{second}"))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(ids(&d.json["lessons"]["added"]), [l2]);
    assert_eq!(ids(&d.json["sections"]["added"]), [s3]);
    assert_eq!(
        ids(&d.json["sections"]["removed"]),
        std::slice::from_ref(&s2)
    );
    assert_eq!(
        ids(&d.json["sections"]["changed"]),
        std::slice::from_ref(&s1)
    );
    assert_eq!(d.json["sections"]["changed"][0]["fields"], json!(["title"]));
    assert_eq!(d.json["lessons"]["removed"], json!([]));

    assert_eq!(
        acme.get(&format!("{path}/versions/99")).await.code(),
        "version_not_found"
    );

    let (_, max) = acme.user_with_role("max@acme.test", "learner").await;
    let a = acme
        .send_as(
            &max,
            reqwest::Method::POST,
            &format!("{path}/enrollment"),
            None,
        )
        .await;
    assert_eq!(a.json["course_version"], second, "{}", a.text);

    // The first version becomes the draft again: what exists in both keeps
    // its id, what was added since goes, what was removed comes back.
    let a = acme
        .post(&format!("{path}/versions/{first}/restore"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let lessons = a.json["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), 1, "{}", a.text);
    assert_eq!(ids(&lessons[0]["sections"]), [s1.clone(), s2.clone()]);
    assert_eq!(lessons[0]["sections"][0]["title"], "S1");
    let third = acme.post(&format!("{path}/publish"), json!({})).await.json["version"]
        .as_i64()
        .unwrap();
    // Learners move to the latest version: one by one, or all at once.
    let mine = format!("/api/v1/enrollments/{lea_enrollment}/move-to-latest");
    let a = acme.send_as(&max, reqwest::Method::POST, &mine, None).await;
    assert_eq!(a.code(), "enrollment_not_found");
    let a = acme.send_as(&lea, reqwest::Method::POST, &mine, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["course_version"], third);
    let a = acme.send_as(&lea, reqwest::Method::POST, &mine, None).await;
    assert_eq!(a.code(), "already_latest");
    let moved = acme
        .post(&format!("{path}/enrollments/move-to-latest"), json!({}))
        .await;
    assert_eq!(moved.json["moved"], 1, "{}", moved.text);
    let list = acme.get(&format!("{path}/versions")).await;
    assert_eq!(list.json["items"][0]["learners"], 2, "{}", list.text);
    let d = acme
        .get(&format!("{path}/versions/{first}/diff/{third}"))
        .await;
    for kind in ["lessons", "sections"] {
        for what in ["added", "removed", "changed", "moved"] {
            assert_eq!(d.json[kind][what], json!([]), "{kind} {what}: {}", d.text);
        }
    }
    // Content a learner worked on goes to the trash on a restore, and the
    // learner, on the version that has it, keeps it.
    let s5 = id(acme
        .post(
            &format!("{path}/lessons/{l1}/sections"),
            json!({ "title": "S5" }),
        )
        .await);
    acme.post(&format!("{path}/publish"), json!({})).await;
    let a = acme.send_as(&lea, reqwest::Method::POST, &mine, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = acme
        .send_as(
            &lea,
            reqwest::Method::PUT,
            &format!("{path}/sections/{s5}/progress"),
            Some(json!({ "time_spent_seconds": 5 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = acme
        .post(&format!("{path}/versions/{first}/restore"), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!acme.get(&path).await.text.contains(&s5));
    assert!(
        acme.get("/api/v1/trash?type=section")
            .await
            .text
            .contains(&s5)
    );
    let a = acme
        .send_as(
            &lea,
            reqwest::Method::GET,
            &format!("{path}/my-progress"),
            None,
        )
        .await;
    assert!(a.text.contains(&s5), "{}", a.text);
    assert_eq!(
        globex.get(&format!("{path}/versions")).await.code(),
        "course_not_found"
    );

    // Snapshots are immutable for the runtime role, even for an admin.
    let mut conn = app.connect_as_app().await;
    for sql in [
        "UPDATE course_versions SET title = 'rewritten history'",
        "DELETE FROM course_versions",
    ] {
        let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, acme.admin_id).await;
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert_eq!(
            err.as_database_error().and_then(|d| d.code()).as_deref(),
            Some("42501"),
            "{sql}"
        );
        tx.rollback().await.unwrap();
    }
    // Nor does a learner move their enrollment back to an older version.
    let mut tx = lms_tests::acting_as(&mut conn, acme.org_id, lea_id).await;
    let err = sqlx::query("UPDATE enrollments SET course_version = $1 WHERE id = $2::uuid")
        .bind(first as i32)
        .bind(&lea_enrollment)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("42501")
    );
    tx.rollback().await.unwrap();
}
