//! The static-body ceilings of the benchmark: poem serving bytes already in
//! memory, as the service sends a cached answer. `GET /bytes/{n}` answers a
//! JSON string of `n` bytes with nothing else on the request path;
//! `GET /api/bytes/{n}` the same bytes behind the service's own per-request
//! stack (request id, time limit, headers, access line), which every
//! request to the service pays whatever it asks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use poem::listener::TcpListener;
use poem::web::{Data, Path};
use poem::{EndpointExt, Response, Route, Server, get, handler};

/// Largest body served.
const MAX: usize = 4 << 20;
/// Sizes kept in memory, at most.
const MAX_SIZES: usize = 64;

type Bodies = Arc<RwLock<HashMap<usize, Bytes>>>;

#[handler]
fn sized(Path(n): Path<usize>, Data(bodies): Data<&Bodies>) -> Response {
    let n = n.clamp(2, MAX);
    let known = bodies.read().ok().and_then(|b| b.get(&n).cloned());
    let body = known.unwrap_or_else(|| {
        let mut v = vec![b'x'; n];
        v[0] = b'"';
        v[n - 1] = b'"';
        let b = Bytes::from(v);
        if let Ok(mut all) = bodies.write()
            && all.len() < MAX_SIZES
        {
            all.insert(n, b.clone());
        }
        b
    });
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(body)
}

/// Serves the ceiling on `listen` until stopped.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let bodies: Bodies = Arc::default();
    let app = Route::new()
        .at("/bytes/:n", get(sized))
        .at(
            "/api/bytes/:n",
            lms_api::app::request_scope(get(sized), std::time::Duration::from_secs(30)),
        )
        .data(bodies);
    Server::new(TcpListener::bind(listen)).run(app).await?;
    Ok(())
}
