//! A TCP proxy a test can cut, to make a shared server unreachable for one client without
//! stopping it for every other test.
//!
//! ```text
//!  client ──▶ 127.0.0.1:<proxy port> ──(open)──▶ server
//!                          └──(cut)───▶ connections refused, open ones reset
//! ```
//!
//! Works for protocols whose clients keep talking to the address they were given (HTTP:
//! Elasticsearch, OpenSearch; Redis; Bolt without routing). Kafka is different: its
//! clients reconnect to the addresses the broker advertises, so Kafka outages use
//! [`crate::PrivateKafka`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; it stops when dropped.
pub struct TcpProxy {
    address: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped on every cut: open connections watch it and close.
    cuts: watch::Sender<u64>,
    generation: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `target`
    /// (`host:port`).
    pub async fn start(target: &str) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let generation = Arc::new(AtomicU64::new(0));
        let target = target.to_owned();
        let task = {
            let open = open.clone();
            let cuts = cuts.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !open.load(Ordering::SeqCst) {
                        drop(client); // refused, as far as the client can tell
                        continue;
                    }
                    let target = target.clone();
                    let mut cut = cuts.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Ok(TcpProxy {
            address,
            open,
            cuts,
            generation,
            task,
        })
    }

    /// The address clients should use instead of the server's.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Makes the server unreachable through the proxy: open connections close, new ones
    /// are dropped at once.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.cuts.send_replace(generation);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}
