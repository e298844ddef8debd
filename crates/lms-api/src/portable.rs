//! A tenant's export archive, a tar file: `organization.json` (the registry
//! row), each tenant table's rows as NDJSON in numbered parts of a few
//! megabytes (`tables/<table>/00001.ndjson`, …), and last `manifest.json`
//! (format, schema version, the organization, and per table its rows, parts
//! and the SHA-256 of its parts together). It is written as it is read from
//! the database, so an export of any size is streamed in bounded memory.

use std::collections::BTreeMap;
use std::io::Read;

use lms_db::queries::portable::{Exporter, TableData};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

/// The archive layout this version writes. It also reads layout 1 (one
/// `tables/<table>.ndjson` per table, the manifest first).
pub const FORMAT: u32 = 2;

/// Bytes of rows gathered into one part before it is sent.
const PART_BYTES: usize = 4 << 20;
/// Rows read from the database per round trip.
const FETCH_ROWS: i64 = 500;

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
    /// SHA-256 of the table's rows (its parts one after the other), hex.
    pub sha256: String,
    /// Parts, `tables/<table>/00001.ndjson` on (absent in layout 1).
    #[serde(default)]
    pub parts: u32,
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

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder.append_data(&mut header, path, bytes)
}

/// The manifest, last.
fn append_manifest(
    tar: &mut tar::Builder<Vec<u8>>,
    organization: &Value,
    tables: BTreeMap<String, TableEntry>,
) -> std::io::Result<()> {
    let manifest = Manifest {
        format: FORMAT,
        schema_version: schema_version(),
        organization_id: organization["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        slug: organization["slug"].as_str().unwrap_or_default().to_owned(),
        exported_at: chrono::Utc::now(),
        tables,
    };
    append(tar, "manifest.json", &serde_json::to_vec_pretty(&manifest)?)
}

/// Writes the archive of tables already in memory, one part each (as
/// [`stream`] writes a small tenant).
pub fn write(organization: &Value, tables: &[TableData]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    append(
        &mut tar,
        "organization.json",
        &serde_json::to_vec(organization)?,
    )?;
    let mut entries = BTreeMap::new();
    for t in tables {
        append(
            &mut tar,
            &format!("tables/{}/00001.ndjson", t.table),
            &t.ndjson,
        )?;
        let sha256 = hex(&sha2::Sha256::digest(&t.ndjson));
        entries.insert(
            t.table.clone(),
            TableEntry {
                rows: t.rows,
                sha256,
                parts: 1,
            },
        );
    }
    append_manifest(&mut tar, organization, entries)?;
    tar.into_inner()
}

type Chunks = tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>;

/// Streams the archive of the tenant whose registry row is `organization`
/// and whose rows `exporter` reads. A failure midway ends the body with an
/// error (the client sees a cut archive, which [`read`] refuses).
pub fn stream(organization: Value, exporter: Exporter) -> poem::Body {
    stream_in_parts(organization, exporter, PART_BYTES)
}

/// [`stream`], with parts of about `part_bytes` (a part holds whole rows).
pub fn stream_in_parts(organization: Value, exporter: Exporter, part_bytes: usize) -> poem::Body {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        match produce(organization, exporter, part_bytes, &tx).await {
            Ok(bytes) => tracing::info!(bytes, "organization exported"),
            Err(e) => {
                tracing::warn!(error = %e, "export stopped");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
            }
        }
    });
    poem::Body::from_bytes_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// The table being written: the part being gathered, and the parts sent.
#[derive(Default)]
struct TableWriter {
    part: Vec<u8>,
    parts: u32,
    rows: u64,
    digest: sha2::Sha256,
}

impl TableWriter {
    fn push(&mut self, line: &str) {
        self.part.extend_from_slice(line.as_bytes());
        self.part.push(b'\n');
        self.rows += 1;
    }

    /// Appends the part gathered to the archive and sends it; returns the
    /// bytes sent.
    async fn send(
        &mut self,
        table: &str,
        tar: &mut tar::Builder<Vec<u8>>,
        out: &Chunks,
    ) -> anyhow::Result<usize> {
        self.digest.update(&self.part);
        self.parts += 1;
        let path = format!("tables/{table}/{:05}.ndjson", self.parts);
        append(tar, &path, &self.part)?;
        self.part.clear();
        flush(tar, out).await
    }

    /// The table's manifest entry; ready for the next table.
    fn finish(&mut self) -> TableEntry {
        let done = std::mem::take(self);
        TableEntry {
            rows: done.rows,
            sha256: hex(&done.digest.finalize()),
            parts: done.parts,
        }
    }
}

/// Sends what the archive holds so far; fails when the client is gone.
async fn flush(tar: &mut tar::Builder<Vec<u8>>, out: &Chunks) -> anyhow::Result<usize> {
    let chunk = std::mem::take(tar.get_mut());
    let n = chunk.len();
    if n > 0 {
        out.send(Ok(chunk.into()))
            .await
            .map_err(|_| anyhow::anyhow!("the client left"))?;
    }
    Ok(n)
}

async fn produce(
    organization: Value,
    mut exporter: Exporter,
    part_bytes: usize,
    out: &Chunks,
) -> anyhow::Result<usize> {
    let mut tar = tar::Builder::new(Vec::new());
    append(
        &mut tar,
        "organization.json",
        &serde_json::to_vec(&organization)?,
    )?;
    let mut sent = 0;
    let mut tables = BTreeMap::new();
    let mut table = TableWriter::default();
    while let Some(page) = exporter.next_page(FETCH_ROWS).await? {
        for line in &page.lines {
            table.push(line);
            if table.part.len() >= part_bytes {
                sent += table.send(&page.table, &mut tar, out).await?;
            }
        }
        if page.last {
            // What is left; every table has a part.
            if table.parts == 0 || !table.part.is_empty() {
                sent += table.send(&page.table, &mut tar, out).await?;
            }
            tables.insert(page.table, table.finish());
        }
    }
    append_manifest(&mut tar, &organization, tables)?;
    let rest = tar.into_inner()?;
    let n = rest.len();
    out.send(Ok(rest.into()))
        .await
        .map_err(|_| anyhow::anyhow!("the client left"))?;
    Ok(sent + n)
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
        (1..=FORMAT).contains(&manifest.format),
        "archive format {} (this build reads 1 to {FORMAT})",
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
        let ndjson = if manifest.format == 1 {
            files
                .remove(&format!("tables/{name}.ndjson"))
                .ok_or_else(|| anyhow::anyhow!("tables/{name}.ndjson is missing"))?
        } else {
            let mut all = Vec::new();
            for n in 1..=entry.parts {
                let path = format!("tables/{name}/{n:05}.ndjson");
                all.extend(
                    files
                        .remove(&path)
                        .ok_or_else(|| anyhow::anyhow!("{path} is missing"))?,
                );
            }
            all
        };
        anyhow::ensure!(
            hex(&sha2::Sha256::digest(&ndjson)) == entry.sha256,
            "tables/{name} does not match its checksum"
        );
        let rows = ndjson
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        anyhow::ensure!(
            rows == entry.rows,
            "tables/{name}: {rows} rows, the manifest says {}",
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
