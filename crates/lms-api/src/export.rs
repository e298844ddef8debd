//! CSV exports streamed page by page: a header line, then one page of rows
//! per short database transaction, so an export of any size holds neither a
//! transaction open nor the whole file in memory.

use futures::StreamExt as _;

use crate::error::ApiError;

/// Streams `header`, then the pages `fetch` returns: it gets the cursor
/// its previous page returned (`None` the first time) and returns rows
/// plus the cursor of the next page, `None` after the last one.
pub fn csv_stream<C, F, Fut>(header: &[&str], fetch: F) -> poem::Body
where
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(Vec<Vec<String>>, Option<C>), ApiError>> + Send,
{
    let header = csv_line(header);
    let fetch = std::sync::Arc::new(fetch);
    let pages = futures::stream::unfold(Some(None), move |cursor: Option<Option<C>>| {
        let fetch = fetch.clone();
        async move {
            let cursor = cursor?;
            match fetch(cursor).await {
                Ok((rows, next)) => {
                    let mut out = Vec::new();
                    for row in &rows {
                        let fields: Vec<&str> = row.iter().map(String::as_str).collect();
                        out.extend(csv_line(&fields));
                    }
                    Some((Ok(bytes::Bytes::from(out)), next.map(Some)))
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), "export stopped");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(header)) }).chain(pages);
    poem::Body::from_bytes_stream(stream)
}

/// One CSV record, with its line end. Fields that a spreadsheet would read
/// as a formula are prefixed with a quote.
pub fn csv_line(fields: &[&str]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let safe: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{f}")
            } else {
                (*f).to_owned()
            }
        })
        .collect();
    let _ = w.write_record(&safe);
    w.into_inner().unwrap_or_default()
}
