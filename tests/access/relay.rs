//! A TCP relay between a simulated terminal and the server that a test can cut. It forwards bytes both
//! ways (raw TCP or WebSocket alike: the server's frames are not masked, so its answers are readable).
//! Armed, it drops the connection instead of forwarding the server's next answer to an
//! `upload_access_info`, so the record is stored but its answer lost, and then turns every connection away
//! until it is opened again. Its upstream can change, for a server restarted on other ports.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What every connection of the relay shares.
#[derive(Debug)]
struct State {
    upstream: Mutex<SocketAddr>,
    lose_answer: AtomicBool,
    blocked: AtomicBool,
    lost: AtomicU64,
}

/// A running relay; it stops when dropped.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

/// The `mod` whose answer an armed relay loses.
const UPLOAD: &[u8] = b"upload_access_info";

impl Relay {
    /// A relay on a free port of 127.0.0.1 to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            upstream: Mutex::new(upstream),
            lose_answer: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            lost: AtomicU64::new(0),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                if shared.blocked.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                conns.spawn(relay(client, shared.clone()));
                while conns.try_join_next().is_some() {}
            }
        });
        Self { addr, state, task }
    }

    /// Where terminals connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends new connections to `upstream`.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self
            .state
            .upstream
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = upstream;
    }

    /// Drops the connection that carries the server's next `upload_access_info` answer, before the
    /// terminal gets it, and turns connections away from then on until [`Relay::open`].
    pub fn lose_next_upload_answer(&self) {
        self.state.lose_answer.store(true, Ordering::SeqCst);
    }

    /// Answers lost so far.
    pub fn lost(&self) -> u64 {
        self.state.lost.load(Ordering::SeqCst)
    }

    /// Lets connections through again.
    pub fn open(&self) {
        self.state.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `window` holds the name of an upload.
fn has_upload(window: &[u8]) -> bool {
    window.windows(UPLOAD.len()).any(|w| w == UPLOAD)
}

async fn relay(client: TcpStream, state: Arc<State>) {
    let upstream = *state
        .upstream
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        // The end of the previous read, for a name split between two reads.
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let n = match server_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if state.lose_answer.load(Ordering::SeqCst) {
                let mut window = std::mem::take(&mut tail);
                window.extend_from_slice(chunk);
                if has_upload(&window) {
                    state.blocked.store(true, Ordering::SeqCst);
                    state.lose_answer.store(false, Ordering::SeqCst);
                    state.lost.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                tail = window[window.len().saturating_sub(UPLOAD.len())..].to_vec();
            }
            if client_tx.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    // Either side ending ends both: the halves are dropped together.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

#[test]
fn an_upload_answer_is_recognised_by_its_mod() {
    assert!(has_upload(br#"{"mod":"upload_access_info","type":2}"#));
    assert!(!has_upload(br#"{"mod":"download_person","type":1}"#));
}
