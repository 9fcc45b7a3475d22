//! A private Redis Cluster per test: six `redis-server` processes (3 masters, 3
//! replicas) on free loopback ports, joined by `redis-cli --cluster create`; optionally
//! TLS-only (clients, cluster bus and replication) and with a password.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the cluster may take to form (or to fail over).
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// One node: its client port, its cluster-bus port, its process.
#[derive(Debug)]
struct Node {
    port: u16,
    child: Mutex<Option<Child>>,
}

/// Options for a [`RedisCluster`]; [`RedisCluster::start`] uses the defaults.
#[derive(Debug, Default, Clone)]
pub struct RedisClusterBuilder {
    password: Option<String>,
    tls: bool,
}

impl RedisClusterBuilder {
    /// Every node requires this password (`requirepass`, and `masterauth` for the
    /// replicas).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Every node speaks TLS only, to clients, on the cluster bus and for replication
    /// (`tls-cluster`, `tls-replication`), with one self-signed certificate made by the
    /// `openssl` command; [`RedisCluster::url`] is then `rediss+cluster://...#insecure`.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Starts six nodes and forms the cluster; returns once every slot is served.
    ///
    /// Panics (failing the test) when `redis-server` or `redis-cli` is missing or the
    /// cluster does not form, with the nodes' logs.
    pub async fn start(self) -> RedisCluster {
        let dir = tempfile::Builder::new()
            .prefix("bytebot-redis-cluster-")
            .tempdir()
            .expect("a temporary directory");
        let certificate = self
            .tls
            .then(|| crate::redis_server::self_signed_certificate(dir.path()));
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = crate::redis_server::free_port();
            let bus_port = crate::redis_server::free_port();
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir(&node_dir).expect("a node directory");
            let mut command = Command::new("redis-server");
            match &certificate {
                Some((cert, key)) => {
                    command
                        .args(["--port", "0", "--tls-port", &port.to_string()])
                        .args(["--tls-cluster", "yes", "--tls-replication", "yes"])
                        .arg("--tls-cert-file")
                        .arg(cert)
                        .arg("--tls-key-file")
                        .arg(key)
                        .arg("--tls-ca-cert-file")
                        .arg(cert)
                        .args(["--tls-auth-clients", "no"]);
                }
                None => {
                    command.args(["--port", &port.to_string()]);
                }
            }
            if let Some(password) = &self.password {
                command
                    .arg("--requirepass")
                    .arg(password)
                    .arg("--masterauth")
                    .arg(password);
            }
            let child = command
                .args(["--cluster-port", &bus_port.to_string()])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", "nodes.conf"])
                // A replica of a loaded test machine may look stale; promote it anyway.
                .args(["--cluster-replica-validity-factor", "0"])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&node_dir)
                .arg("--logfile")
                .arg(node_dir.join("redis.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|err| panic!("starting redis-server (is it installed?): {err}"));
            nodes.push(Node {
                port,
                child: Mutex::new(Some(child)),
            });
        }
        let cluster = RedisCluster {
            nodes,
            dir,
            options: self,
        };
        for node in &cluster.nodes {
            cluster.wait_for_ping(node.port).await;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let mut create = Command::new("redis-cli");
        if let Some((cert, _)) = &certificate {
            create.arg("--tls").arg("--cacert").arg(cert);
        }
        if let Some(password) = &cluster.options.password {
            create.arg("-a").arg(password).arg("--no-auth-warning");
        }
        let created = create
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("running redis-cli (is it installed?): {err}"));
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&created.stdout),
            cluster.logs()
        );
        cluster.wait_until_healthy().await;
        cluster
    }
}

/// A Redis Cluster of six local nodes, killed on drop (their logs are printed when the
/// test panics). Nodes time out after 1 s (`cluster-node-timeout 1000`), so a killed
/// master's replica is promoted within a few seconds.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
    options: RedisClusterBuilder,
}

impl RedisCluster {
    /// Starts a plain cluster (no TLS, no password); see [`RedisCluster::builder`].
    pub async fn start() -> RedisCluster {
        RedisClusterBuilder::default().start().await
    }

    /// Options for a cluster with TLS or a password.
    pub fn builder() -> RedisClusterBuilder {
        RedisClusterBuilder::default()
    }

    /// `redis+cluster://127.0.0.1:<port>,...` listing every node, with the password
    /// when one is set (`rediss+cluster://...#insecure` for a TLS cluster: its
    /// certificate is self-signed).
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let (scheme, fragment) = self.scheme_and_fragment();
        format!(
            "{scheme}+cluster://{}{}{fragment}",
            self.userinfo(),
            nodes.join(",")
        )
    }

    /// The URL of one node on its own, as a plain redis-rs client takes it.
    pub fn node_url(&self, port: u16) -> String {
        let (scheme, fragment) = self.scheme_and_fragment();
        format!("{scheme}://{}127.0.0.1:{port}{fragment}", self.userinfo())
    }

    fn scheme_and_fragment(&self) -> (&'static str, &'static str) {
        if self.options.tls {
            ("rediss", "#insecure")
        } else {
            ("redis", "")
        }
    }

    fn userinfo(&self) -> String {
        self.options
            .password
            .as_ref()
            .map_or_else(String::new, |password| format!(":{password}@"))
    }

    /// Every node's client port.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// A plain connection to one node, for the test's own commands.
    pub async fn node_connection(&self, port: u16) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.node_url(port))
            .expect("a valid url")
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|err| panic!("connecting to node {port}: {err}\n{}", self.logs()))
    }

    /// The ports of the masters serving slots now, by `CLUSTER NODES` of a live node.
    pub async fn masters(&self) -> Vec<u16> {
        let nodes = self.cluster_nodes().await;
        nodes
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let flags = fields.get(2)?;
                // Fields 9 and on are the slot ranges a master serves.
                if !flags.contains("master") || flags.contains("fail") || fields.len() < 9 {
                    return None;
                }
                fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()
            })
            .collect()
    }

    /// Kills one node (SIGKILL, as in a crash).
    pub fn kill(&self, port: u16) {
        let node = self
            .nodes
            .iter()
            .find(|node| node.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.lock().expect("lock").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until the live nodes agree that the cluster is `ok` with all 16 384 slots
    /// served (after a kill: once a replica has been promoted).
    pub async fn wait_until_healthy(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let mut healthy = true;
            for node in self.live_ports() {
                let info = self.query(node, &["CLUSTER", "INFO"]).await;
                if !info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:16384") {
                    healthy = false;
                }
            }
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become healthy within {CLUSTER_TIMEOUT:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| node.child.lock().expect("lock").is_some())
            .map(|node| node.port)
            .collect()
    }

    async fn cluster_nodes(&self) -> String {
        let port = self.live_ports()[0];
        self.query(port, &["CLUSTER", "NODES"]).await
    }

    async fn query(&self, port: u16, args: &[&str]) -> String {
        let Ok(client) = redis::Client::open(self.node_url(port)) else {
            return String::new();
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return String::new();
        };
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command
            .query_async::<String>(&mut connection)
            .await
            .unwrap_or_default()
    }

    async fn wait_for_ping(&self, port: u16) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        while self.query(port, &["PING"]).await != "PONG" {
            assert!(
                Instant::now() < deadline,
                "node {port} did not answer PING\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every node's log.
    pub fn logs(&self) -> String {
        let mut logs = String::new();
        for node in &self.nodes {
            let path = self
                .dir
                .path()
                .join(node.port.to_string())
                .join("redis.log");
            logs.push_str(&format!(
                "---- node {} ----\n{}\n",
                node.port,
                std::fs::read_to_string(path).unwrap_or_default()
            ));
        }
        logs
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for node in &self.nodes {
            if let Ok(mut child) = node.child.lock()
                && let Some(mut child) = child.take()
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
