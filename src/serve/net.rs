//! The listening socket: connections in, each served by hyper's HTTP/1 with the limits a server
//! facing the internet needs. A request's headers must arrive within the header timeout, which
//! also closes a keep-alive connection left idle that long. At most `max_connections` are
//! open at once: a new one asks the oldest to close (hyper finishes a request in progress on
//! it first, and closes it at once if it is idle), so that a client who keeps reopening idle
//! or slow-header connections never holds the door shut for the others, nor for `/healthz`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long the listener waits before accepting again when the process is out of file
/// descriptors: the connections being served free them.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// The limits of `[serve]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// The address a connection came from.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// The open connections, oldest first, each with the way to ask it to close.
#[derive(Default)]
struct Open {
    next_id: u64,
    list: VecDeque<(u64, tokio::sync::oneshot::Sender<()>)>,
}

/// Serves connections until the process stops.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits) -> std::io::Result<()> {
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, or a connection reset before it was taken: not the end.
            Err(_) => {
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let (close, closing) = tokio::sync::oneshot::channel();
        let id = {
            let mut o = open.lock().expect("the connection list");
            while o.list.len() >= limits.max_connections {
                if let Some((_, oldest)) = o.list.pop_front() {
                    let _ = oldest.send(());
                }
            }
            o.next_id += 1;
            let id = o.next_id;
            o.list.push_back((id, close));
            id
        };
        // The client's address, for the sign-up form's limits per client.
        let service = TowerToHyperService::new(router.clone().layer(axum::Extension(Peer(peer))));
        let open = open.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            open.lock()
                .expect("the connection list")
                .list
                .retain(|(i, _)| *i != id);
        });
    }
}
