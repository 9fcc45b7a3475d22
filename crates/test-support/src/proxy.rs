//! A TCP proxy in front of a test server that a test can cut and restore, to give one
//! client an outage while others stay connected.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards `127.0.0.1:<port>` to an upstream port. [`TcpProxy::cut`] drops every
/// connection and refuses new ones (they are accepted and closed at once) until
/// [`TcpProxy::restore`].
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    /// `true` while cut. Each forwarding task watches it and hangs up when it flips.
    cut: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    connections: Arc<Mutex<u64>>,
}

impl TcpProxy {
    /// Starts forwarding to `127.0.0.1:<upstream_port>`.
    pub async fn start(upstream_port: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (cut, _) = watch::channel(false);
        let connections = Arc::new(Mutex::new(0));
        let accept_task = tokio::spawn(accept_loop(
            listener,
            upstream_port,
            cut.clone(),
            Arc::clone(&connections),
        ));
        TcpProxy {
            port,
            cut,
            accept_task,
            connections,
        }
    }

    /// The port clients should connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops all proxied connections and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// How many client connections the proxy has forwarded so far.
    pub fn connections_forwarded(&self) -> u64 {
        *self.connections.lock().expect("lock")
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.cut.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream_port: u16,
    cut: watch::Sender<bool>,
    connections: Arc<Mutex<u64>>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(client);
            continue;
        }
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
            drop(client);
            continue;
        };
        *connections.lock().expect("lock") += 1;
        let mut cut_signal = cut.subscribe();
        tokio::spawn(async move {
            let (mut client, mut upstream) = (client, upstream);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                _ = cut_signal.wait_for(|cut| *cut) => {}
            }
        });
    }
}
