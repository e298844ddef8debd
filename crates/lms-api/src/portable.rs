//! A tenant's export archive: a tar file holding `manifest.json` (format,
//! schema version, the organization, and per table its row count and the
//! SHA-256 of its file), `organization.json` (the registry row) and one
//! `tables/<table>.ndjson` per tenant table.

use std::collections::BTreeMap;
use std::io::Read;

use lms_db::queries::portable::TableData;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

/// The archive layout this version writes and reads.
pub const FORMAT: u32 = 1;

/// What an archive holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The archive layout.
    pub format: u32,
    /// The schema (the last migration) the rows were written under.
    pub schema_version: i64,
    /// The organization.
    pub organization_id: uuid::Uuid,
    /// Its slug.
    pub slug: String,
    /// When.
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// Per table: rows and the SHA-256 (hex) of its file.
    pub tables: BTreeMap<String, TableEntry>,
}

/// One table of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableEntry {
    /// Rows.
    pub rows: u64,
    /// SHA-256 of `tables/<table>.ndjson`, hex.
    pub sha256: String,
}

/// An archive, read and checked.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Its manifest.
    pub manifest: Manifest,
    /// The registry row.
    pub organization: Value,
    /// The tables.
    pub tables: Vec<TableData>,
}

/// The schema version of this build: its last migration.
pub fn schema_version() -> i64 {
    lms_db::migrate::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

fn hex_sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder.append_data(&mut header, path, bytes)
}

/// Writes the archive of one tenant.
pub fn write(organization: &Value, tables: &[TableData]) -> std::io::Result<Vec<u8>> {
    let manifest = Manifest {
        format: FORMAT,
        schema_version: schema_version(),
        organization_id: organization["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        slug: organization["slug"].as_str().unwrap_or_default().to_owned(),
        exported_at: chrono::Utc::now(),
        tables: tables
            .iter()
            .map(|t| {
                (
                    t.table.clone(),
                    TableEntry {
                        rows: t.rows,
                        sha256: hex_sha256(&t.ndjson),
                    },
                )
            })
            .collect(),
    };
    let mut builder = tar::Builder::new(Vec::new());
    append(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    append(
        &mut builder,
        "organization.json",
        &serde_json::to_vec(organization)?,
    )?;
    for t in tables {
        append(
            &mut builder,
            &format!("tables/{}.ndjson", t.table),
            &t.ndjson,
        )?;
    }
    builder.into_inner()
}

/// Reads an archive and checks it: its format, a schema no newer than this
/// build's, every table file present with its row count and checksum.
pub fn read(bytes: &[u8]) -> anyhow::Result<Archive> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.insert(path, data);
    }
    let manifest: Manifest = serde_json::from_slice(
        files
            .get("manifest.json")
            .ok_or_else(|| anyhow::anyhow!("no manifest.json"))?,
    )?;
    anyhow::ensure!(
        manifest.format == FORMAT,
        "archive format {} (this build reads {FORMAT})",
        manifest.format
    );
    anyhow::ensure!(
        manifest.schema_version <= schema_version(),
        "the archive's schema ({}) is newer than this build's ({})",
        manifest.schema_version,
        schema_version()
    );
    let organization: Value = serde_json::from_slice(
        files
            .get("organization.json")
            .ok_or_else(|| anyhow::anyhow!("no organization.json"))?,
    )?;
    let mut tables = Vec::new();
    for (name, entry) in &manifest.tables {
        let ndjson = files
            .remove(&format!("tables/{name}.ndjson"))
            .ok_or_else(|| anyhow::anyhow!("tables/{name}.ndjson is missing"))?;
        anyhow::ensure!(
            hex_sha256(&ndjson) == entry.sha256,
            "tables/{name}.ndjson does not match its checksum"
        );
        let rows = ndjson
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        anyhow::ensure!(
            rows == entry.rows,
            "tables/{name}.ndjson: {rows} rows, the manifest says {}",
            entry.rows
        );
        tables.push(TableData {
            table: name.clone(),
            rows,
            ndjson,
        });
    }
    Ok(Archive {
        manifest,
        organization,
        tables,
    })
}
