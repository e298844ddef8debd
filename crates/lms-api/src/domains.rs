//! Custom domains prove they belong to their tenant before they serve: the
//! tenant publishes `tenantry-verification=<token>` as a TXT record at
//! `_tenantry-verification.<domain>`, and the platform looks it up.

use std::collections::HashMap;
use std::sync::RwLock;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use tokio::sync::OnceCell;

/// Where the verification record is published, under the domain.
pub const RECORD_LABEL: &str = "_tenantry-verification";
/// What the record's text starts with, before the token.
pub const RECORD_PREFIX: &str = "tenantry-verification=";

/// The DNS name to publish the record at.
pub fn record_name(domain: &str) -> String {
    format!("{RECORD_LABEL}.{domain}")
}

/// The TXT record text that proves `token`.
pub fn record_text(token: &str) -> String {
    format!("{RECORD_PREFIX}{token}")
}

/// Where TXT records are read: the system's DNS resolver, or a fixed table
/// (an installation without outbound DNS, and the tests) that the
/// operator fills.
#[derive(Debug, Default)]
pub struct TxtRecords {
    fixed: RwLock<Option<HashMap<String, Vec<String>>>>,
    resolver: OnceCell<TokioResolver>,
}

/// A lookup that could not be made (not "no such record").
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup failed: {0}")]
pub struct LookupFailed(String);

impl TxtRecords {
    /// Reads records from the fixed table from now on (empty at first).
    pub fn use_fixed(&self) {
        if let Ok(mut f) = self.fixed.write() {
            f.get_or_insert_with(HashMap::new);
        }
    }

    /// Publishes a TXT record in the fixed table (no effect on real DNS).
    pub fn publish(&self, name: &str, text: &str) {
        if let Ok(mut f) = self.fixed.write() {
            f.get_or_insert_with(HashMap::new)
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(text.to_owned());
        }
    }

    /// The TXT records at `name`; none when the name has none.
    pub async fn lookup(&self, name: &str) -> Result<Vec<String>, LookupFailed> {
        if let Ok(f) = self.fixed.read()
            && let Some(table) = f.as_ref()
        {
            return Ok(table
                .get(&name.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default());
        }
        let resolver = self
            .resolver
            .get_or_try_init(|| async {
                TokioResolver::builder_tokio()
                    .and_then(|b| b.build())
                    .map_err(|e| LookupFailed(e.to_string()))
            })
            .await?;
        match resolver.txt_lookup(format!("{name}.")).await {
            Ok(found) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(LookupFailed(e.to_string())),
        }
    }

    /// Whether `domain` publishes the record that proves `token`.
    pub async fn proves(&self, domain: &str, token: &str) -> Result<bool, LookupFailed> {
        let want = record_text(token);
        Ok(self
            .lookup(&record_name(domain))
            .await?
            .iter()
            .any(|t| t.trim() == want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fixed_table_proves_exactly_the_published_token() {
        let r = TxtRecords::default();
        r.use_fixed();
        assert!(!r.proves("learn.example.com", "abc").await.unwrap());
        r.publish(&record_name("learn.example.com"), "v=spf1 -all");
        r.publish(&record_name("learn.example.com"), &record_text("abc"));
        assert!(r.proves("Learn.Example.com", "abc").await.unwrap());
        assert!(!r.proves("learn.example.com", "abd").await.unwrap());
        assert!(!r.proves("other.example.com", "abc").await.unwrap());
    }
}
