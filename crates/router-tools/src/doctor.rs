//! `doctor`: is Redis reachable, which version, how fast, who is connected, and is
//! anything listening on the inbound and outbound topics.
//!
//! Redis cannot list another client's patterns, so "who listens where" is judged from
//! `CLIENT LIST`: every Bytebot program names its connections `bytebot:<role>:<host>`
//! and shows its pattern count (`psub`). Gateways (`gateway-*`) listen on outbound
//! topics; other programs with patterns are counted as subscribers of inbound topics.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytebot_core::bus::{self, BusConfig, RedisUrl};

/// PINGs timed for the round-trip figure (the median is shown).
const PINGS: usize = 5;

/// One line of `CLIENT LIST`, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `name=` (empty when the client never set one).
    pub name: String,
    /// `psub=`: pattern subscriptions.
    pub patterns: u64,
    /// `sub=`: channel subscriptions.
    pub channels: u64,
}

impl Client {
    /// The Bytebot role in the name (`example-subscriber`), if it is a Bytebot name.
    pub fn role(&self) -> Option<&str> {
        self.name.strip_prefix("bytebot:")?.split(':').next()
    }
}

/// Parses `CLIENT LIST` output.
pub fn parse_client_list(text: &str) -> Vec<Client> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let field = |key: &str| {
                line.split(' ')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("")
            };
            Client {
                name: field("name").to_owned(),
                patterns: field("psub").parse().unwrap_or(0),
                channels: field("sub").parse().unwrap_or(0),
            }
        })
        .collect()
}

/// Runs the checks and returns the report; fails (with an actionable message) only
/// when Redis cannot be reached or is too old.
pub async fn run(redis_url: RedisUrl) -> anyhow::Result<String> {
    let config = BusConfig::new(redis_url, "router-tools")
        .with_connection_timeout(Duration::from_secs(3))
        .with_response_timeout(Duration::from_secs(3));
    let mut out = String::new();
    let mut connection = match bus::connect(&config).await {
        Ok(connection) => connection,
        Err(err) => {
            let mut hint = format!("cannot reach redis at {}: {err}\n", config.url());
            hint.push_str(
                "  - is redis-server running? start one with `redis-server` (or `scripts/demo`)\n",
            );
            hint.push_str("  - is REDIS_URL right? it is redis://[user:password@]host[:port][/db]");
            if !config.url().has_password() {
                hint.push_str("\n  - if the server has a password, put it in REDIS_URL");
            }
            bail!(hint);
        }
    };
    let _ = writeln!(out, "redis       {} (reachable)", config.url());

    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await
        .context("running INFO server")?;
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let _ = writeln!(out, "version     {version}");
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(0);
    if major < 6 {
        bail!("{out}redis {version} is too old: Bytebot needs Redis 6 or newer (RESP3)");
    }

    let mut round_trips = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        let start = Instant::now();
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .context("running PING")?;
        round_trips.push(start.elapsed());
    }
    round_trips.sort();
    let _ = writeln!(
        out,
        "round trip {:>6.2} ms (median of {PINGS} PINGs)",
        round_trips[PINGS / 2].as_secs_f64() * 1000.0
    );

    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut connection)
        .await
        .context("running CLIENT LIST")?;
    let clients: Vec<Client> = parse_client_list(&list)
        .into_iter()
        .filter(|client| client.name != config.client_name())
        .collect();
    out.push_str(&report_clients(&clients));
    Ok(out)
}

/// The clients section and the verdicts on inbound and outbound listeners.
pub fn report_clients(clients: &[Client]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "clients     {} other connection(s)", clients.len());
    for client in clients {
        let name = if client.name.is_empty() {
            "(unnamed)"
        } else {
            &client.name
        };
        let _ = writeln!(
            out,
            "  {name:<48} patterns={} channels={}",
            client.patterns, client.channels
        );
    }
    let listening = |client: &&Client| client.patterns + client.channels > 0;
    let gateways: Vec<&str> = clients
        .iter()
        .filter(listening)
        .filter(|c| c.role().is_some_and(|role| role.starts_with("gateway")))
        .map(|c| c.name.as_str())
        .collect();
    let subscribers: Vec<&str> = clients
        .iter()
        .filter(listening)
        .filter(|c| {
            c.role()
                .is_some_and(|role| !role.starts_with("gateway") && role != "router-tools")
        })
        .map(|c| c.name.as_str())
        .collect();
    let unnamed = clients
        .iter()
        .filter(listening)
        .filter(|c| c.role().is_none())
        .count();
    if subscribers.is_empty() {
        let _ = writeln!(
            out,
            "inbound     nobody: messages from gateways reach no bot (start example-subscriber, or your own)"
        );
    } else {
        let _ = writeln!(
            out,
            "inbound     {} subscriber(s): {}",
            subscribers.len(),
            subscribers.join(", ")
        );
    }
    if gateways.is_empty() {
        let _ = writeln!(
            out,
            "outbound    no gateway: replies reach no chat platform (start gateway-discord; `router-tools chat` reads its own replies)"
        );
    } else {
        let _ = writeln!(
            out,
            "outbound    {} gateway(s): {}",
            gateways.len(),
            gateways.join(", ")
        );
    }
    if unnamed > 0 {
        let _ = writeln!(
            out,
            "note        {unnamed} unnamed connection(s) subscribed: not judged (name connections `bytebot:<role>:<host>` with CLIENT SETNAME)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=bytebot:example-subscriber:box age=5 idle=0 flags=P db=0 sub=0 psub=1 ssub=0 multi=-1 cmd=psubscribe\n\
id=4 addr=127.0.0.1:50001 fd=9 name= age=1 idle=0 flags=N db=0 sub=0 psub=0 cmd=client|list\n\
id=5 addr=127.0.0.1:50002 fd=10 name=bytebot:gateway-discord:box age=1 idle=0 flags=P db=0 sub=0 psub=1 cmd=psubscribe\n";

    #[test]
    fn client_list_names_and_counts_are_parsed() {
        let clients = parse_client_list(LIST);
        assert_eq!(clients.len(), 3);
        assert_eq!(clients[0].name, "bytebot:example-subscriber:box");
        assert_eq!(clients[0].patterns, 1);
        assert_eq!(clients[0].role(), Some("example-subscriber"));
        assert_eq!(clients[1].name, "");
        assert_eq!(clients[1].role(), None);
    }

    #[test]
    fn report_names_subscribers_and_gateways_and_says_what_is_missing() {
        let report = report_clients(&parse_client_list(LIST));
        assert!(
            report.contains("inbound     1 subscriber(s): bytebot:example-subscriber:box"),
            "{report}"
        );
        assert!(
            report.contains("outbound    1 gateway(s): bytebot:gateway-discord:box"),
            "{report}"
        );
        let empty = report_clients(&[]);
        assert!(empty.contains("inbound     nobody"), "{empty}");
        assert!(empty.contains("outbound    no gateway"), "{empty}");
    }
}
