//! The embedded database of `cargo run`, started the way a newcomer does.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use sqlx::{Connection, PgConnection};

/// Run as root from a folder the `postgres` user cannot traverse (root's
/// home, any `mktemp -d`), the embedded cluster still starts: it lives where
/// that user can reach it, and the data folder says where.
#[tokio::test]
async fn the_embedded_database_starts_from_a_folder_private_to_root() {
    let private = std::env::temp_dir().join(format!("lms-private-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = private.join(".lms-data");

    let (cluster, url) = lms_server::embedded::start(&data_dir)
        .await
        .expect("the embedded database starts");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    drop(cluster);

    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let note = std::fs::read_to_string(data_dir.join("CLUSTER_LOCATION"));
    if root {
        let note = note.expect("the data folder says where the cluster lives");
        let moved = note
            .split_whitespace()
            .find(|w| w.starts_with("/var/lib/tenantry-lms/"))
            .expect("a path in the note")
            .trim_end_matches(':');
        assert!(std::path::Path::new(moved).join("PG_VERSION").exists());
        std::fs::remove_dir_all(moved).unwrap();
    } else {
        // Not root: the cluster is where it was asked to be.
        assert!(note.is_err());
        assert!(data_dir.join("PG_VERSION").exists());
    }
    std::fs::remove_dir_all(&private).unwrap();
}
