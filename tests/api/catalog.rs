//! The catalog: content hierarchy and ordering, publishing and visibility,
//! categories and tags, search and sorting, the cache.

use lms_tests::{Answer, Body, Tenant, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn id(a: &Answer) -> String {
    a.json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", a.text))
        .to_owned()
}

fn titles(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn lesson(t: &Tenant<'_>, course: &str, title: &str, position: Option<i32>) -> String {
    let mut body = json!({ "title": title });
    if let Some(p) = position {
        body["position"] = json!(p);
    }
    let a = t
        .post(&format!("/api/v1/courses/{course}/lessons"), body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    id(&a)
}

#[tokio::test]
async fn lessons_keep_a_dense_order_through_inserts_deletes_and_reorders() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let c = acme.create_course("Order").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = lesson(&acme, &c, "A", None).await;
    let b = lesson(&acme, &c, "B", None).await;
    let first = lesson(&acme, &c, "First", Some(0)).await;
    let _mid = lesson(&acme, &c, "Mid", Some(2)).await;
    let _end = lesson(&acme, &c, "End", Some(99)).await;
    let lessons_path = format!("/api/v1/courses/{c}/lessons");
    let l = acme.get(&lessons_path).await;
    assert_eq!(titles(&l.json, "items"), ["First", "A", "Mid", "B", "End"]);
    let positions: Vec<i64> = l.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4]);

    assert_eq!(
        acme.delete(&format!("/api/v1/courses/{c}/lessons/{a}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let l = acme.get(&lessons_path).await;
    assert_eq!(titles(&l.json, "items"), ["First", "Mid", "B", "End"]);
    assert_eq!(l.json["items"][3]["position"], 3, "the gap closed");

    // A full reorder, in one request.
    let mut ids: Vec<String> = l.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    let r = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{c}/lessons/order"),
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(titles(&r.json, "items"), ["End", "B", "Mid", "First"]);

    // Orders that are not exactly the current children: refused, nothing moves.
    let other = acme.create_course("Other").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = lesson(&acme, &other, "Elsewhere", None).await;
    for (why, bad) in [
        (
            "duplicate",
            vec![
                ids[0].clone(),
                ids[0].clone(),
                ids[1].clone(),
                ids[2].clone(),
            ],
        ),
        ("missing one", ids[..3].to_vec()),
        (
            "foreign id",
            vec![
                ids[0].clone(),
                ids[1].clone(),
                ids[2].clone(),
                foreign.clone(),
            ],
        ),
        ("extra", [ids.clone(), vec![foreign.clone()]].concat()),
    ] {
        let r = acme
            .send_as(
                &acme.token,
                Method::PUT,
                &format!("/api/v1/courses/{c}/lessons/order"),
                Some(json!({ "ids": bad })),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            r.text
        );
        assert_eq!(r.code(), "order_mismatch", "{why}");
    }
    assert_eq!(
        titles(&acme.get(&lessons_path).await.json, "items"),
        ["End", "B", "Mid", "First"]
    );

    let r = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{c}/lessons/order"),
            Some(json!({ "ids": ["not-a-uuid"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Lessons are edited in place; a lesson is only reachable under its course.
    let up = acme
        .patch(
            &format!("/api/v1/courses/{c}/lessons/{b}"),
            json!({ "title": "B!", "is_required": false, "description": "d" }),
        )
        .await;
    assert_eq!(up.json["title"], "B!");
    assert_eq!(up.json["is_required"], false);
    let wrong_parent = acme
        .get(&format!("/api/v1/courses/{other}/lessons/{first}"))
        .await;
    assert_eq!(wrong_parent.code(), "lesson_not_found");
}

#[tokio::test]
async fn sections_are_ordered_typed_and_feed_the_derived_estimate() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let c = acme.create_course("Sections").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let l1 = lesson(&acme, &c, "L1", None).await;
    let l2 = lesson(&acme, &c, "L2", None).await;
    let base = format!("/api/v1/courses/{c}/lessons/{l1}/sections");
    let s1 = acme.post(&base, json!({ "title": "Watch", "type": "VIDEO", "duration_minutes": 50, "content": "<p>hi</p>" })).await;
    assert_eq!(s1.status, StatusCode::CREATED, "{}", s1.text);
    assert_eq!(s1.json["type"], "VIDEO");
    let s2 = acme
        .post(
            &base,
            json!({ "title": "Quiz", "type": "QUIZ", "duration_minutes": 20, "position": 0 }),
        )
        .await;
    acme.post(&format!("/api/v1/courses/{c}/lessons/{l2}/sections"), json!({ "title": "Code", "type": "CODE_EXERCISE", "duration_minutes": 45, "is_optional": true })).await;
    let list = acme.get(&base).await;
    assert_eq!(titles(&list.json, "items"), ["Quiz", "Watch"]);

    // 50 + 20 + 45 minutes = 115 → 2 hours, derived because nobody set it.
    let d = acme.get(&format!("/api/v1/courses/{c}")).await;
    assert_eq!(d.json["course"]["estimated_hours"], 2);
    assert_eq!(d.json["course"]["estimated_hours_derived"], true);
    let set = acme
        .patch(
            &format!("/api/v1/courses/{c}"),
            json!({ "estimated_hours": 5 }),
        )
        .await;
    assert_eq!(set.json["estimated_hours"], 5);
    assert_eq!(set.json["estimated_hours_derived"], false);
    let unset = acme
        .patch(
            &format!("/api/v1/courses/{c}"),
            json!({ "estimated_hours": null }),
        )
        .await;
    assert_eq!(unset.json["estimated_hours"], 2);

    let up = acme
        .patch(
            &format!("{base}/{}", id(&s1)),
            json!({ "type": "AUDIO", "duration_minutes": 10 }),
        )
        .await;
    assert_eq!(up.json["type"], "AUDIO");
    let r = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("{base}/order"),
            Some(json!({ "ids": [id(&s1), id(&s2)] })),
        )
        .await;
    assert_eq!(titles(&r.json, "items"), ["Watch", "Quiz"]);
    assert_eq!(
        acme.delete(&format!("{base}/{}", id(&s1))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(acme.get(&base).await.json["items"][0]["position"], 0);

    // The whole tree in one answer.
    let d = acme.get(&format!("/api/v1/courses/{c}")).await;
    let lessons = d.json["lessons"].as_array().unwrap();
    assert_eq!(lessons.len(), 2);
    assert_eq!(lessons[0]["lesson"]["title"], "L1");
    assert_eq!(lessons[0]["sections"][0]["title"], "Quiz");
    assert_eq!(lessons[1]["sections"][0]["type"], "CODE_EXERCISE");

    // Bad input: 4xx with a code, nothing written.
    for (why, body, status, code) in [
        (
            "negative duration",
            json!({ "title": "x", "duration_minutes": -1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "unknown type",
            json!({ "title": "x", "type": "HOLOGRAM" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "blank title",
            json!({ "title": " " }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "long title",
            json!({ "title": "x".repeat(201) }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ] {
        let a = acme.post(&base, body).await;
        assert_eq!(a.status, status, "{why}: {}", a.text);
        assert_eq!(a.code(), code, "{why}");
    }
    assert_eq!(
        acme.get(&base).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A section under a lesson of another course (ids mixed up): 404.
    let other = acme.create_course("Other").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = acme
        .post(
            &format!("/api/v1/courses/{other}/lessons/{l1}/sections"),
            json!({ "title": "x" }),
        )
        .await;
    assert_eq!(a.code(), "lesson_not_found");
}

#[tokio::test]
async fn learners_see_published_courses_only_and_publishing_keeps_a_version() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (_, learner) = acme.user_with_role("lea@acme.test", "learner").await;
    let (ins_id, instructor) = acme.user_with_role("ins@acme.test", "instructor").await;
    let draft = acme.create_course("Draft course").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let public = acme.create_course("Public course").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    lesson(&acme, &draft, "Secret lesson", None).await;
    let p = acme
        .post(&format!("/api/v1/courses/{public}/publish"), json!(null))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.json["is_published"], true);

    let list = acme
        .send_as(&learner, Method::GET, "/api/v1/courses", None)
        .await;
    assert_eq!(titles(&list.json, "items"), ["Public course"]);
    let hidden = acme
        .send_as(
            &learner,
            Method::GET,
            &format!("/api/v1/courses/{draft}"),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.code(), "course_not_found");
    assert!(!hidden.text.contains("Draft course"));
    assert_eq!(
        acme.send_as(
            &learner,
            Method::GET,
            &format!("/api/v1/courses/{draft}/lessons"),
            None
        )
        .await
        .code(),
        "course_not_found"
    );
    assert_eq!(
        acme.send_as(
            &learner,
            Method::GET,
            "/api/v1/courses?published=false",
            None
        )
        .await
        .json["items"],
        json!([])
    );
    assert_eq!(
        acme.send_as(
            &learner,
            Method::GET,
            &format!("/api/v1/courses/{public}"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    let list = acme
        .send_as(&instructor, Method::GET, "/api/v1/courses", None)
        .await;
    assert_eq!(
        titles(&list.json, "items"),
        ["Public course", "Draft course"]
    );
    // Learners cannot publish; instructors of the course can, and only
    // those.
    let publish = format!("/api/v1/courses/{draft}/publish");
    let a = acme
        .send_as(&instructor, Method::POST, &publish, None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::FORBIDDEN, "not_course_staff")
    );
    let a = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{draft}/staff/{ins_id}"),
            Some(json!({ "role": "INSTRUCTOR" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = acme
        .send_as(
            &learner,
            Method::POST,
            &format!("/api/v1/courses/{draft}/publish"),
            None,
        )
        .await;
    assert_eq!(a.code(), "permission_denied");
    let a = acme
        .send_as(
            &instructor,
            Method::POST,
            &format!("/api/v1/courses/{draft}/publish"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        acme.send_as(
            &learner,
            Method::GET,
            &format!("/api/v1/courses/{draft}"),
            None
        )
        .await
        .status,
        StatusCode::OK,
        "visible at once"
    );
    let a = acme
        .send_as(
            &instructor,
            Method::POST,
            &format!("/api/v1/courses/{draft}/unpublish"),
            None,
        )
        .await;
    assert_eq!(a.json["is_published"], false);
    assert_eq!(
        acme.send_as(
            &learner,
            Method::GET,
            &format!("/api/v1/courses/{draft}"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND,
        "hidden at once"
    );

    // Each publication kept the tree as it was.
    let mut su = app.connect_as_superuser().await;
    let versions: Vec<(i32, Value)> = sqlx::query_as(
        "SELECT version, content FROM course_versions WHERE course_id = $1::uuid ORDER BY version",
    )
    .bind(&draft)
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].1["lessons"][0]["title"], "Secret lesson");
}

#[tokio::test]
async fn categories_form_a_tree_without_cycles_and_filter_with_descendants() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let cat = |name: &str, slug: &str, parent: Option<&str>| {
        let body = json!({ "name": name, "slug": slug, "parent_id": parent, "color": "#AA00ff" });
        let t = acme.clone_ref();
        async move { t.post("/api/v1/categories", body).await }
    };
    let tech = cat("Tech", "tech", None).await;
    assert_eq!(tech.status, StatusCode::CREATED, "{}", tech.text);
    assert_eq!(tech.json["color"], "#aa00ff");
    let tech = id(&tech);
    let prog = id(&cat("Programming", "programming", Some(&tech)).await);
    let rust = id(&cat("Rust", "rust", Some(&prog)).await);
    let art = id(&cat("Art", "art", None).await);
    assert_eq!(cat("Dup", "rust", None).await.code(), "slug_taken");
    assert_eq!(
        cat("Bad", "Not A Slug", None).await.code(),
        "validation_failed"
    );
    assert_eq!(
        cat("Orphan", "orphan", Some(&uuid::Uuid::now_v7().to_string()))
            .await
            .code(),
        "parent_not_found"
    );

    let tree = acme.get("/api/v1/categories/tree").await;
    assert_eq!(tree.status, StatusCode::OK);
    let roots: Vec<&str> = tree.json["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["category"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["Art", "Tech"]);
    assert_eq!(
        tree.json["roots"][1]["children"][0]["children"][0]["category"]["name"],
        "Rust"
    );

    // Under itself or its own descendant: refused.
    for target in [&tech, &rust] {
        let a = acme
            .patch(
                &format!("/api/v1/categories/{tech}"),
                json!({ "parent_id": target }),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(a.code(), "category_cycle");
    }
    let moved = acme
        .patch(
            &format!("/api/v1/categories/{prog}"),
            json!({ "parent_id": art }),
        )
        .await;
    assert_eq!(moved.json["parent_id"], art.as_str());

    let c1 = acme.create_course("Ferris").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c2 = acme.create_course("Painting").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.create_course("Unfiled").await;
    let put = |course: &str, cat: &str| {
        let path = format!("/api/v1/courses/{course}/categories/{cat}");
        let t = acme.clone_ref();
        async move { t.send_as(&t.token, Method::PUT, &path, None).await }
    };
    assert_eq!(put(&c1, &rust).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        put(&c1, &rust).await.status,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    put(&c2, &art).await;
    let under_art = acme
        .get(&format!("/api/v1/courses?category={art}&sort=title"))
        .await;
    assert_eq!(
        titles(&under_art.json, "items"),
        ["Ferris", "Painting"],
        "Rust sits under Programming under Art now"
    );
    let under_rust = acme.get(&format!("/api/v1/courses?category={rust}")).await;
    assert_eq!(titles(&under_rust.json, "items"), ["Ferris"]);
    let detail = acme.get(&format!("/api/v1/courses/{c1}")).await;
    assert_eq!(detail.json["categories"][0]["slug"], "rust");

    assert_eq!(
        acme.delete(&format!("/api/v1/courses/{c1}/categories/{rust}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acme.delete(&format!("/api/v1/courses/{c1}/categories/{rust}"))
            .await
            .code(),
        "category_not_found"
    );
    // Deleting a parent lifts its children to the top.
    assert_eq!(
        acme.delete(&format!("/api/v1/categories/{art}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let tree = acme.get("/api/v1/categories/tree").await;
    let roots: Vec<&str> = tree.json["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["category"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["Programming", "Tech"]);
}

#[tokio::test]
async fn tags_are_unique_regardless_of_case_and_filter_the_catalog() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let t = acme
        .post(
            "/api/v1/tags",
            json!({ "name": "Beginner-Friendly", "color": "#00ff00" }),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let tag = id(&t);
    assert_eq!(
        acme.post("/api/v1/tags", json!({ "name": "beginner-friendly" }))
            .await
            .code(),
        "tag_name_taken"
    );
    assert_eq!(
        acme.post("/api/v1/tags", json!({ "name": "x", "color": "green" }))
            .await
            .code(),
        "validation_failed"
    );
    let c = acme.create_course("Tagged").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    acme.create_course("Plain").await;
    let r = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{c}/tags/{tag}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        titles(
            &acme.get(&format!("/api/v1/courses?tag={tag}")).await.json,
            "items"
        ),
        ["Tagged"]
    );
    assert_eq!(
        acme.get("/api/v1/tags").await.json["items"][0]["course_count"],
        1
    );
    let r = acme
        .send_as(
            &acme.token,
            Method::PUT,
            &format!("/api/v1/courses/{c}/tags/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(r.code(), "tag_not_found");
    assert_eq!(
        acme.delete(&format!("/api/v1/tags/{tag}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{c}")).await.json["tags"],
        json!([])
    );
}

#[tokio::test]
async fn search_is_ranked_stemmed_in_the_tenant_language_and_sorts_page_by_keyset() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    for (title, description) in [
        ("Running a Database", "Operating PostgreSQL in production"),
        (
            "Gardening",
            "Plants and soil; nothing about databases here except this sentence",
        ),
        ("Cooking", "Recipes"),
    ] {
        let a = acme
            .post(
                "/api/v1/courses",
                json!({ "title": title, "description": description }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
    }
    // English stemming: "databases" finds "Database", "run" finds "Running";
    // the title match ranks first.
    let r = acme.get("/api/v1/courses?q=databases").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        titles(&r.json, "items"),
        ["Running a Database", "Gardening"]
    );
    assert_eq!(
        titles(&acme.get("/api/v1/courses?q=run").await.json, "items"),
        ["Running a Database"]
    );
    assert_eq!(
        titles(
            &acme
                .get("/api/v1/courses?q=%22nothing%20about%22%20-plants")
                .await
                .json,
            "items"
        ),
        Vec::<String>::new()
    );
    // Relevance pages by keyset too.
    let p1 = acme.get("/api/v1/courses?q=databases&limit=1").await;
    let p2 = acme
        .get(&format!(
            "/api/v1/courses?q=databases&limit=1&cursor={}",
            p1.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(titles(&p2.json, "items"), ["Gardening"]);

    // Switching the organization's language re-indexes its catalog: with
    // `simple` there is no stemming any more.
    let s = acme
        .patch(
            "/api/v1/organization/settings",
            json!({ "search_language": "simple" }),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(
        titles(&acme.get("/api/v1/courses?q=run").await.json, "items"),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&acme.get("/api/v1/courses?q=running").await.json, "items"),
        ["Running a Database"]
    );

    // Title and rating orders, paged.
    let t1 = acme.get("/api/v1/courses?sort=title&limit=2").await;
    assert_eq!(titles(&t1.json, "items"), ["Cooking", "Gardening"]);
    let t2 = acme
        .get(&format!(
            "/api/v1/courses?sort=title&limit=2&cursor={}",
            t1.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(titles(&t2.json, "items"), ["Running a Database"]);
    // A cursor of another order, a tampered one, relevance without a search: 400/422.
    let bad = acme
        .get(&format!(
            "/api/v1/courses?sort=rating&cursor={}",
            t1.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(bad.code(), "invalid_cursor");
    assert_eq!(
        acme.get("/api/v1/courses?cursor=eyJzIjoibmV3ZXN0In0")
            .await
            .code(),
        "invalid_cursor"
    );
    assert_eq!(
        acme.get("/api/v1/courses?sort=relevance").await.code(),
        "validation_failed"
    );
    assert_eq!(
        acme.get(&format!("/api/v1/courses?q={}", "x".repeat(201)))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = acme.get("/api/v1/courses?sort=rating").await;
    assert_eq!(r.json["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_search_index_serves_a_tenant_query() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    acme.create_course("Indexes").await;
    // Enough rows in two tenants for the planner to choose by cost.
    let mut su = app.connect_as_superuser().await;
    for org in [acme.org_id, globex.org_id] {
        sqlx::query(
            "INSERT INTO courses (organization_id, id, title, description) \
             SELECT $1, gen_random_uuid(), 'Course ' || i, md5(i::text) || ' ' || md5((i * 7)::text) \
               FROM generate_series(1, 3000) AS i",
        )
        .bind(org)
        .execute(&mut su)
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE courses")
        .execute(&mut su)
        .await
        .unwrap();
    let mut tx = sqlx::Connection::begin(&mut su).await.unwrap();
    // Read as the superuser: for lms_app, row-level security keeps the
    // non-leakproof `@@` out of the index condition (the index then
    // narrows to the tenant only; see the README).
    // At this size the planner rightly prefers the tenant's btree indexes
    // plus a filter. What must hold is that the GIN index *can* answer the
    // query with the tenant inside its index condition: so, in a
    // transaction that is rolled back, take the btree alternatives away.
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let btrees: Vec<String> = sqlx::query_scalar(
        "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
          JOIN pg_am am ON am.oid = c.relam \
         WHERE i.indrelid = 'courses'::regclass AND am.amname = 'btree' AND NOT i.indisprimary",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    for idx in btrees {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {idx}")))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("ALTER TABLE courses DROP CONSTRAINT courses_pkey CASCADE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM courses WHERE organization_id = $1 \
           AND search_vector @@ websearch_to_tsquery('english'::regconfig, 'index')",
    )
    .bind(acme.org_id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan = plan.join("\n");
    tx.rollback().await.unwrap();
    let index_cond = plan
        .lines()
        .find(|l| l.contains("Index Cond"))
        .unwrap_or_default();
    assert!(
        plan.contains("Bitmap Index Scan on courses_search_idx"),
        "plan:\n{plan}"
    );
    assert!(
        index_cond.contains("organization_id") && index_cond.contains("search_vector"),
        "the tenant and the search are both index conditions:\n{plan}"
    );
}

#[tokio::test]
async fn the_cache_never_serves_stale_foreign_or_draft_entries() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (_, learner) = acme.user_with_role("lea@acme.test", "learner").await;
    let metrics = || {
        let app = &app;
        async move {
            let m = app
                .send(
                    Method::GET,
                    lms_tests::PLATFORM_HOST,
                    "/metrics",
                    None,
                    None,
                )
                .await;
            let read = |name: &str| -> u64 {
                m.text
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            (
                read("lms_catalog_cache_hits_total"),
                read("lms_catalog_cache_misses_total"),
            )
        }
    };
    let c = acme.create_course("Cached").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (h0, m0) = metrics().await;
    let first = acme.get(&format!("/api/v1/courses/{c}")).await;
    let second = acme.get(&format!("/api/v1/courses/{c}")).await;
    assert_eq!(first.json, second.json);
    let (h1, m1) = metrics().await;
    assert_eq!((h1 - h0, m1 - m0), (1, 1), "second read was a hit");

    // A write is visible on the very next read.
    acme.patch(
        &format!("/api/v1/courses/{c}"),
        json!({ "title": "Cached, renamed" }),
    )
    .await;
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{c}")).await.json["course"]["title"],
        "Cached, renamed"
    );
    lesson(&acme, &c, "New lesson", None).await;
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{c}")).await.json["lessons"][0]["lesson"]["title"],
        "New lesson"
    );
    assert_eq!(
        titles(&acme.get("/api/v1/courses").await.json, "items"),
        ["Cached, renamed"]
    );
    acme.create_course("Second").await;
    assert_eq!(
        titles(&acme.get("/api/v1/courses").await.json, "items"),
        ["Second", "Cached, renamed"]
    );

    // The same id and the same query string from another tenant: never A's entry.
    let g = globex.get(&format!("/api/v1/courses/{c}")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert!(!g.text.contains("Cached"));
    let g = globex.get("/api/v1/courses").await;
    assert_eq!(g.json["items"], json!([]));
    let g = globex.get("/api/v1/categories/tree").await;
    assert_eq!(g.json["roots"], json!([]));

    // A draft cached for an admin is never served to a learner.
    assert_eq!(
        acme.get(&format!("/api/v1/courses/{c}")).await.status,
        StatusCode::OK
    );
    let l = acme
        .send_as(&learner, Method::GET, &format!("/api/v1/courses/{c}"), None)
        .await;
    assert_eq!(l.status, StatusCode::NOT_FOUND);
    let l = acme
        .send_as(&learner, Method::GET, "/api/v1/courses", None)
        .await;
    assert_eq!(l.json["items"], json!([]));
    // Metrics are not served on tenant hosts.
    assert_eq!(
        app.send(Method::GET, &acme.host, "/metrics", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_tenant_cannot_reach_content_taxonomy_or_links_by_id() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let c = a.create_course("Acme Course").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let l = lesson(&a, &c, "Acme Lesson", None).await;
    let s = id(&a
        .post(
            &format!("/api/v1/courses/{c}/lessons/{l}/sections"),
            json!({ "title": "Acme Section" }),
        )
        .await);
    let cat = id(&a
        .post(
            "/api/v1/categories",
            json!({ "name": "Acme Category", "slug": "acme-cat" }),
        )
        .await);
    let tag = id(&a.post("/api/v1/tags", json!({ "name": "acme-tag" })).await);
    // B's own course, to try to attach A's category and tag to it.
    let bc = b.create_course("Globex Course").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bl = lesson(&b, &bc, "Globex Lesson", None).await;
    let secrets = [
        "Acme Course",
        "Acme Lesson",
        "Acme Section",
        "Acme Category",
        "acme-tag",
        "acme",
    ];
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/v1/courses/{c}/lessons/{l}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/courses/{c}/lessons/{l}"),
            Some(json!({ "title": "x" })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/courses/{c}/lessons/{l}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/courses/{c}/lessons/order"),
            Some(json!({ "ids": [l] })),
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{c}/lessons/{l}/sections"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{c}/lessons/{l}/sections"),
            Some(json!({ "title": "x" })),
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{c}/lessons/{l}/sections/{s}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/courses/{c}/lessons/{l}/sections/{s}"),
            Some(json!({ "title": "x" })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/courses/{c}/lessons/{l}/sections/{s}"),
            None,
        ),
        (Method::POST, format!("/api/v1/courses/{c}/publish"), None),
        (Method::POST, format!("/api/v1/courses/{c}/unpublish"), None),
        (
            Method::PUT,
            format!("/api/v1/courses/{c}/categories/{cat}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/courses/{bc}/categories/{cat}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/courses/{bc}/tags/{tag}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/categories/{cat}"),
            Some(json!({ "name": "x" })),
        ),
        (Method::DELETE, format!("/api/v1/categories/{cat}"), None),
        (Method::DELETE, format!("/api/v1/tags/{tag}"), None),
        // A's lesson id under B's own course.
        (
            Method::GET,
            format!("/api/v1/courses/{bc}/lessons/{l}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/courses/{bc}/lessons/{l}/sections"),
            Some(json!({ "title": "x" })),
        ),
    ];
    for (method, path, body) in calls {
        let ans = b.send_as(&b.token, method.clone(), &path, body).await;
        assert_eq!(
            ans.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            ans.text
        );
        for secret in secrets {
            assert!(!ans.text.contains(secret), "{method} {path} leaks {secret}");
        }
    }
    // A's category as a parent of B's, A's ids in B's reorder: refused.
    let a2 = b
        .post(
            "/api/v1/categories",
            json!({ "name": "x", "slug": "x", "parent_id": cat }),
        )
        .await;
    assert_eq!(a2.code(), "parent_not_found");
    let r = b
        .send_as(
            &b.token,
            Method::PUT,
            &format!("/api/v1/courses/{bc}/lessons/order"),
            Some(json!({ "ids": [l] })),
        )
        .await;
    assert_eq!(r.code(), "order_mismatch");
    let _ = bl;
    // Lists show nothing of A, counts included.
    assert_eq!(b.get("/api/v1/tags").await.json["items"], json!([]));
    assert_eq!(
        b.get("/api/v1/categories/tree").await.json["roots"],
        json!([])
    );
    assert!(
        !b.get(&format!("/api/v1/courses?category={cat}"))
            .await
            .text
            .contains("Acme")
    );
    assert_eq!(
        b.get(&format!("/api/v1/courses?tag={tag}")).await.json["items"],
        json!([])
    );
    assert_eq!(
        b.get("/api/v1/courses?q=acme").await.json["items"],
        json!([])
    );
    // And A's content is intact.
    let d = a.get(&format!("/api/v1/courses/{c}")).await;
    assert_eq!(d.json["lessons"][0]["sections"][0]["title"], "Acme Section");
    let _ = Body::Json(json!(null));
}

#[tokio::test]
async fn concurrent_inserts_and_reorders_queue_and_keep_the_order_dense() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let c = acme.create_course("Busy").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{c}/lessons");
    // Ten lessons added at once, half of them at the front.
    let adds = (0..10).map(|i| {
        let body = if i % 2 == 0 {
            json!({ "title": format!("L{i}"), "position": 0 })
        } else {
            json!({ "title": format!("L{i}") })
        };
        acme.post(&path, body)
    });
    for a in futures::future::join_all(adds).await {
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let list = acme.get(&path).await;
    let items = list.json["items"].as_array().unwrap();
    let positions: Vec<i64> = items
        .iter()
        .map(|x| x["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (0..10).collect::<Vec<i64>>());
    let ids: Vec<String> = items
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();

    // Five full reorders at once: each is applied whole, one after another.
    let orders: Vec<Vec<String>> = (0..5)
        .map(|k| {
            let mut o = ids.clone();
            o.rotate_left(k + 1);
            o
        })
        .collect();
    let order_path = format!("{path}/order");
    let reorders = orders.iter().map(|o| {
        acme.send_as(
            &acme.token,
            Method::PUT,
            &order_path,
            Some(json!({ "ids": o })),
        )
    });
    for a in futures::future::join_all(reorders).await {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let after = acme.get(&path).await;
    let now: Vec<String> = after.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        orders.contains(&now),
        "the final order is exactly one of the requested ones"
    );
}

/// Date-times as instants whatever their RFC 3339 spelling, numbers as
/// numbers (`0` is `0.0`).
fn instants(v: &mut Value) {
    match v {
        Value::Number(n) => *v = json!(n.as_f64()),
        Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                *s = t.with_timezone(&chrono::Utc).to_rfc3339();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(instants),
        Value::Object(o) => {
            o.values_mut().for_each(instants);
            o.sort_keys();
        }
        _ => {}
    }
}

/// The course detail is JSON PostgreSQL builds and the server sends as it
/// is: it must say exactly what the typed schema says, value for value, for
/// every shape of course (no lessons, a lesson without sections, nulls,
/// nested metadata, a tag without a colour, a draft).
#[tokio::test]
async fn the_course_document_built_by_the_database_is_the_typed_detail() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let bare = acme.create_course("Bare").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let full = acme.create_course("Full").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let up = acme
        .patch(
            &format!("/api/v1/courses/{full}"),
            json!({ "image_url": "https://cdn.example.com/a.png",
                    "metadata": { "level": null, "nested": { "k": [1, "two", null] }, "q": "say \"hi\"\n" } }),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    let l1 = lesson(&acme, &full, "With sections", None).await;
    lesson(&acme, &full, "Empty", None).await;
    let described = acme
        .patch(
            &format!("/api/v1/courses/{full}/lessons/{l1}"),
            json!({ "description": "Start <here>", "unlock_after_days": 3 }),
        )
        .await;
    assert_eq!(described.status, StatusCode::OK, "{}", described.text);
    for (title, kind) in [("Read", "TEXT"), ("Quiz", "QUIZ")] {
        let s = acme
            .post(
                &format!("/api/v1/courses/{full}/lessons/{l1}/sections"),
                json!({ "title": title, "type": kind, "duration_minutes": 40,
                        "content": "<p>ünïcode – \u{1F600} \\ \" </p>" }),
            )
            .await;
        assert_eq!(s.status, StatusCode::CREATED, "{}", s.text);
    }
    let cat = acme
        .post(
            "/api/v1/categories",
            json!({ "name": "Science", "slug": "science" }),
        )
        .await;
    let plain = acme.post("/api/v1/tags", json!({ "name": "plain" })).await;
    let red = acme
        .post("/api/v1/tags", json!({ "name": "red", "color": "#ff0000" }))
        .await;
    for link in [
        format!(
            "/api/v1/courses/{full}/categories/{}",
            cat.json["id"].as_str().unwrap()
        ),
        format!(
            "/api/v1/courses/{full}/tags/{}",
            plain.json["id"].as_str().unwrap()
        ),
        format!(
            "/api/v1/courses/{full}/tags/{}",
            red.json["id"].as_str().unwrap()
        ),
    ] {
        let a = acme.send_as(&acme.token, Method::PUT, &link, None).await;
        assert!(a.status.is_success(), "{link}: {}", a.text);
    }

    for course in [&bare, &full] {
        let sent = acme.get(&format!("/api/v1/courses/{course}")).await;
        assert_eq!(sent.status, StatusCode::OK);
        let mut tx = app
            .ctx()
            .db
            .tenant(lms_domain::OrgId::from_uuid(acme.org_id), None)
            .await
            .unwrap();
        let tree = lms_db::queries::courses::detail(
            &mut tx,
            lms_domain::CourseId::from_uuid(course.parse().unwrap()),
            true,
        )
        .await
        .unwrap()
        .unwrap();
        tx.commit().await.unwrap();
        let mut typed = lms_api::tenant_api::typed_detail(tree);
        let mut body: Value = serde_json::from_str(&sent.text).unwrap();
        instants(&mut typed);
        instants(&mut body);
        assert_eq!(
            serde_json::to_string_pretty(&body).unwrap(),
            serde_json::to_string_pretty(&typed).unwrap(),
            "course {course}"
        );
    }
}
