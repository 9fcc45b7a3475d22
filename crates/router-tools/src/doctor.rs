//! `doctor`: is Redis reachable, which version, how fast, who is connected, and is
//! anything listening on the inbound and outbound topics.
//!
//! Redis cannot list another client's patterns, so "who listens where" is judged from
//! what it does show: `CLIENT LIST` (each connection's name and its pattern and
//! channel counts), `PUBSUB NUMPAT` and `PUBSUB CHANNELS`/`NUMSUB` (exact channel
//! subscriptions, which *are* visible). Every Bytebot program names its connections
//! `bytebot:<role>:<host>`, and the role says what it is: `gateway-*` (listens on
//! outbound topics), `router-tools-chat` (a console: its own outbound.console topic),
//! `router-tools-watch` (a watcher: receives what it watches), other `router-tools*`
//! (one-off tools), anything else a bot. A bot's patterns stay unknown: the report
//! says so rather than claim it listens on inbound topics.
//!
//! Discord gateway processes also hold a connection named
//! `bytebot:gateway-discord-shards-<start>-<end>-of-<count>:<host>` (their IDENTIFY
//! locks): that is how `doctor` lists the shard ranges and finds gaps and overlaps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytebot_core::bus::{self, BusConfig, RedisUrl};

/// PINGs timed for the round-trip figure (the median is shown).
const PINGS: usize = 5;

/// One line of `CLIENT LIST`, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `id=`: the connection's id.
    pub id: u64,
    /// `name=` (empty when the client never set one).
    pub name: String,
    /// `psub=`: pattern subscriptions.
    pub patterns: u64,
    /// `sub=`: channel subscriptions.
    pub channels: u64,
}

/// What a connection is, by the role in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A bot (`bytebot:<any other role>:<host>`): its patterns are unknown.
    Bot,
    /// A platform gateway (`gateway-*`): listens on outbound topics.
    Gateway,
    /// `router-tools chat`: a console gateway, listening on its own reply topic.
    Console,
    /// `router-tools watch`: receives every message its patterns match.
    Watcher,
    /// Another router-tools command (`send`, `bench`, `doctor`).
    Tool,
    /// No `bytebot:<role>:<host>` name: not judged.
    Unknown,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Bot => "bot",
            Kind::Gateway => "gateway",
            Kind::Console => "console",
            Kind::Watcher => "watcher",
            Kind::Tool => "tool",
            Kind::Unknown => "unknown",
        }
    }
}

impl Client {
    /// The Bytebot role in the name (`example-subscriber`), if it is a Bytebot name.
    pub fn role(&self) -> Option<&str> {
        self.name.strip_prefix("bytebot:")?.split(':').next()
    }

    /// What the connection is, judged by its role.
    pub fn kind(&self) -> Kind {
        match self.role() {
            None | Some("") => Kind::Unknown,
            Some(role) if role.starts_with("gateway") => Kind::Gateway,
            Some("router-tools-chat") => Kind::Console,
            Some("router-tools-watch") => Kind::Watcher,
            Some(role) if role == "router-tools" || role.starts_with("router-tools-") => Kind::Tool,
            Some(_) => Kind::Bot,
        }
    }

    fn subscribed(&self) -> bool {
        self.patterns + self.channels > 0
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
                id: field("id").parse().unwrap_or(0),
                name: field("name").to_owned(),
                patterns: field("psub").parse().unwrap_or(0),
                channels: field("sub").parse().unwrap_or(0),
            }
        })
        .collect()
}

/// What Redis shows about subscriptions besides the clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `PUBSUB NUMPAT`: distinct patterns subscribed, over all clients.
    pub distinct_patterns: i64,
    /// `PUBSUB CHANNELS` with `PUBSUB NUMSUB`: each subscribed channel and how many
    /// connections subscribe to it exactly.
    pub channels: Vec<(String, i64)>,
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

    let own_id: u64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut connection)
        .await
        .context("running CLIENT ID")?;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut connection)
        .await
        .context("running CLIENT LIST")?;
    let clients: Vec<Client> = parse_client_list(&list)
        .into_iter()
        .filter(|client| client.id != own_id)
        .collect();
    let subscriptions = subscriptions(&mut connection).await?;
    out.push_str(&report_clients(&clients, &subscriptions));
    Ok(out)
}

async fn subscriptions(
    connection: &mut redis::aio::MultiplexedConnection,
) -> anyhow::Result<Subscriptions> {
    let distinct_patterns: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query_async(connection)
        .await
        .context("running PUBSUB NUMPAT")?;
    let mut names: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query_async(connection)
        .await
        .context("running PUBSUB CHANNELS")?;
    names.sort();
    let channels = if names.is_empty() {
        Vec::new()
    } else {
        let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&names)
            .query_async(connection)
            .await
            .context("running PUBSUB NUMSUB")?;
        counts
    };
    Ok(Subscriptions {
        distinct_patterns,
        channels,
    })
}

/// The clients section and the verdicts: who listens on inbound and outbound topics,
/// consoles and watchers, duplicate instances, and what could not be judged.
pub fn report_clients(clients: &[Client], subscriptions: &Subscriptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "clients     {} other connection(s); {} distinct pattern(s) subscribed",
        clients.len(),
        subscriptions.distinct_patterns
    );
    for client in clients {
        let name = if client.name.is_empty() {
            "(unnamed)"
        } else {
            &client.name
        };
        let _ = writeln!(
            out,
            "  {name:<48} {:<8} patterns={} channels={}",
            client.kind().label(),
            client.patterns,
            client.channels
        );
    }
    let subscribed = |kind: Kind| -> Vec<&Client> {
        clients
            .iter()
            .filter(|client| client.kind() == kind && client.subscribed())
            .collect()
    };
    let names = |clients: &[&Client]| -> String {
        clients
            .iter()
            .map(|client| client.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let topic_channels = |prefix: &str| -> Vec<String> {
        subscriptions
            .channels
            .iter()
            .filter(|(channel, _)| channel.starts_with(prefix))
            .map(|(channel, count)| format!("{channel} ({count})"))
            .collect()
    };

    // Inbound: bots with patterns (which patterns, Redis does not say), and exact
    // subscriptions to inbound topics (which it does).
    let bots: Vec<&Client> = clients
        .iter()
        .filter(|client| client.kind() == Kind::Bot && client.patterns > 0)
        .collect();
    let inbound_channels = topic_channels("inbound.");
    if bots.is_empty() && inbound_channels.is_empty() {
        let _ = writeln!(
            out,
            "inbound     nobody: no bot is subscribed, so messages from gateways reach no bot (start example-subscriber, or your own)"
        );
    }
    if !bots.is_empty() {
        let _ = writeln!(
            out,
            "inbound     {} bot(s) subscribed to patterns: {}",
            bots.len(),
            names(&bots)
        );
        let _ = writeln!(
            out,
            "            (judged by name: Redis does not show a client's patterns, so a bot on other topics counts too)"
        );
    }
    if !inbound_channels.is_empty() {
        let _ = writeln!(
            out,
            "inbound     exact topic subscriptions: {}",
            inbound_channels.join(", ")
        );
    }

    let gateways = subscribed(Kind::Gateway);
    let outbound_channels = topic_channels("outbound.");
    if gateways.is_empty() {
        let _ = writeln!(
            out,
            "outbound    no gateway: replies reach no chat platform (start gateway-discord or gateway-irc; `router-tools chat` reads its own replies)"
        );
    } else {
        let _ = writeln!(
            out,
            "outbound    {} gateway(s): {}",
            gateways.len(),
            names(&gateways)
        );
    }
    if !outbound_channels.is_empty() {
        let _ = writeln!(
            out,
            "outbound    exact topic subscriptions: {}",
            outbound_channels.join(", ")
        );
    }
    let consoles = subscribed(Kind::Console);
    if !consoles.is_empty() {
        let _ = writeln!(
            out,
            "consoles    {} router-tools chat: {} (each reads the replies on its own outbound.<platform>.<space>.<room>.<user>)",
            consoles.len(),
            names(&consoles)
        );
    }
    let watchers = subscribed(Kind::Watcher);
    if !watchers.is_empty() {
        let _ = writeln!(
            out,
            "watchers    {} router-tools watch: {} (they receive every message they watch, so `send` counts them)",
            watchers.len(),
            names(&watchers)
        );
    }

    let ranges = shard_ranges(clients);
    out.push_str(&report_shards(&ranges));

    // Two instances of one bot (or gateway) each receive every message: both answer.
    // Not so for Discord gateways with shard ranges: each sends only its shards' part.
    let mut instances: BTreeMap<&str, Vec<&Client>> = BTreeMap::new();
    for client in clients.iter().filter(|client| {
        matches!(client.kind(), Kind::Bot | Kind::Gateway)
            && client.patterns > 0
            && (client.role() != Some("gateway-discord") || ranges.is_empty())
    }) {
        if let Some(role) = client.role() {
            instances.entry(role).or_default().push(client);
        }
    }
    for (role, clients) in instances.iter().filter(|(_, clients)| clients.len() > 1) {
        let _ = writeln!(
            out,
            "warning     {} instances of {role} are subscribed ({}): each receives every message, so each answers it; run one, or split the topics between them with patterns",
            clients.len(),
            names(clients)
        );
    }

    let unnamed = clients
        .iter()
        .filter(|client| client.kind() == Kind::Unknown && client.subscribed())
        .count();
    if unnamed > 0 {
        let _ = writeln!(
            out,
            "note        {unnamed} subscribed connection(s) without a bytebot:<role>:<host> name: not judged (name connections with CLIENT SETNAME)"
        );
    }
    out
}

/// One Discord gateway process' shards, from its lock connection's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRange {
    /// The connection's name.
    pub name: String,
    /// First shard.
    pub start: u32,
    /// Last shard, included.
    pub end: u32,
    /// Total shards.
    pub count: u32,
}

/// The shard ranges that gateway processes announce in their connection names.
pub fn shard_ranges(clients: &[Client]) -> Vec<ShardRange> {
    let mut ranges: Vec<ShardRange> = clients
        .iter()
        .filter_map(|client| {
            let spec = client.role()?.strip_prefix("gateway-discord-shards-")?;
            let (range, count) = spec.split_once("-of-")?;
            let (start, end) = range.split_once('-')?;
            Some(ShardRange {
                name: client.name.clone(),
                start: start.parse().ok()?,
                end: end.parse().ok()?,
                count: count.parse().ok()?,
            })
        })
        .collect();
    ranges.sort_by_key(|range| (range.count, range.start, range.end));
    ranges
}

/// The shards section: each process' range, then what no process runs (its guilds get
/// no replies) and what several run (harmless for sends, which carry a nonce, but the
/// shard's events are published twice).
pub fn report_shards(ranges: &[ShardRange]) -> String {
    let mut out = String::new();
    for range in ranges {
        let _ = writeln!(
            out,
            "shards      {}-{} of {}: {}",
            range.start, range.end, range.count, range.name
        );
    }
    let mut counts: Vec<u32> = ranges.iter().map(|range| range.count).collect();
    counts.dedup();
    if counts.len() > 1 {
        let _ = writeln!(
            out,
            "warning     gateway-discord processes disagree on the shard count ({}): give every process the same --shard-count",
            counts
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return out;
    }
    let Some(&count) = counts.first() else {
        return out;
    };
    let mut runs = vec![0u32; count as usize];
    for range in ranges {
        for shard in range.start..=range.end.min(count.saturating_sub(1)) {
            runs[shard as usize] += 1;
        }
    }
    let spans = |wanted: fn(u32) -> bool| -> Vec<String> {
        let mut spans = Vec::new();
        let mut shard = 0;
        while shard < runs.len() {
            if wanted(runs[shard]) {
                let start = shard;
                while shard + 1 < runs.len() && wanted(runs[shard + 1]) {
                    shard += 1;
                }
                spans.push(if start == shard {
                    start.to_string()
                } else {
                    format!("{start}-{shard}")
                });
            }
            shard += 1;
        }
        spans
    };
    let gaps = spans(|n| n == 0);
    if !gaps.is_empty() {
        let _ = writeln!(
            out,
            "warning     shard(s) {} of {count} run in no gateway process: their guilds' messages are neither published nor answered (start a gateway with --shards for them)",
            gaps.join(", ")
        );
    }
    let overlaps = spans(|n| n > 1);
    if !overlaps.is_empty() {
        let _ = writeln!(
            out,
            "warning     shard(s) {} of {count} run in several gateway processes: their messages are published more than once (sends are deduplicated by nonce); fix the --shards ranges",
            overlaps.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operator must see at a glance which shards nobody runs and which run twice.
    #[test]
    fn shard_ranges_are_listed_with_gaps_and_overlaps() {
        let clients = [
            client(1, "bytebot:gateway-discord-shards-0-2-of-8:a", 0, 0),
            client(2, "bytebot:gateway-discord-shards-2-3-of-8:b", 0, 0),
            client(3, "bytebot:gateway-discord-shards-6-6-of-8:c", 0, 0),
            client(4, "bytebot:gateway-discord:a", 1, 0),
            client(5, "bytebot:gateway-discord:b", 1, 0),
        ];
        let ranges = shard_ranges(&clients);
        assert_eq!(ranges.len(), 3);
        let report = report_clients(&clients, &Subscriptions::default());
        assert!(
            report.contains("shards      0-2 of 8: bytebot:gateway-discord-shards-0-2-of-8:a"),
            "{report}"
        );
        assert!(
            report.contains("shard(s) 4-5, 7 of 8 run in no gateway process"),
            "{report}"
        );
        assert!(
            report.contains("shard(s) 2 of 8 run in several gateway processes"),
            "{report}"
        );
        assert!(!report.contains("instances of gateway-discord"), "{report}");

        let whole = [
            client(1, "bytebot:gateway-discord-shards-0-3-of-8:a", 0, 0),
            client(2, "bytebot:gateway-discord-shards-4-7-of-8:b", 0, 0),
        ];
        let report = report_shards(&shard_ranges(&whole));
        assert!(!report.contains("warning"), "{report}");
        let mixed = [
            client(1, "bytebot:gateway-discord-shards-0-3-of-8:a", 0, 0),
            client(2, "bytebot:gateway-discord-shards-4-7-of-9:b", 0, 0),
        ];
        assert!(
            report_shards(&shard_ranges(&mixed)).contains("disagree on the shard count (8, 9)")
        );
    }

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
    fn report_names_bots_and_gateways_and_says_what_is_missing() {
        let report = report_clients(&parse_client_list(LIST), &Subscriptions::default());
        assert!(
            report.contains(
                "inbound     1 bot(s) subscribed to patterns: bytebot:example-subscriber:box"
            ),
            "{report}"
        );
        assert!(
            report.contains("outbound    1 gateway(s): bytebot:gateway-discord:box"),
            "{report}"
        );
        assert!(!report.contains("warning"), "{report}");
        let empty = report_clients(&[], &Subscriptions::default());
        assert!(empty.contains("inbound     nobody"), "{empty}");
        assert!(empty.contains("outbound    no gateway"), "{empty}");
    }

    fn client(id: u64, name: &str, patterns: u64, channels: u64) -> Client {
        Client {
            id,
            name: name.to_owned(),
            patterns,
            channels,
        }
    }

    #[test]
    fn roles_say_what_a_connection_is() {
        let kind = |name: &str| client(1, name, 1, 0).kind();
        assert_eq!(kind("bytebot:example-subscriber:box"), Kind::Bot);
        assert_eq!(kind("bytebot:python-ping-bot:box"), Kind::Bot);
        assert_eq!(kind("bytebot:gateway-discord:box"), Kind::Gateway);
        assert_eq!(kind("bytebot:gateway-irc:box"), Kind::Gateway);
        assert_eq!(kind("bytebot:router-tools-chat:box"), Kind::Console);
        assert_eq!(kind("bytebot:router-tools-watch:box"), Kind::Watcher);
        assert_eq!(kind("bytebot:router-tools:box"), Kind::Tool);
        assert_eq!(kind("bytebot:router-tools-bench:box"), Kind::Tool);
        assert_eq!(kind("newsreader"), Kind::Unknown);
        assert_eq!(kind(""), Kind::Unknown);
    }

    /// A connection with channel subscriptions only is judged by the channels, which
    /// Redis does show: `news` is not an inbound topic.
    #[test]
    fn channel_subscribers_are_judged_by_their_channels() {
        let clients = [client(1, "bytebot:news:box", 0, 1)];
        let news = Subscriptions {
            distinct_patterns: 0,
            channels: vec![("news".into(), 1)],
        };
        let report = report_clients(&clients, &news);
        assert!(report.contains("inbound     nobody"), "{report}");
        let inbound = Subscriptions {
            distinct_patterns: 0,
            channels: vec![("inbound.console.local.terminal.me".into(), 1)],
        };
        let report = report_clients(&clients, &inbound);
        assert!(!report.contains("nobody"), "{report}");
        assert!(
            report.contains(
                "inbound     exact topic subscriptions: inbound.console.local.terminal.me (1)"
            ),
            "{report}"
        );
    }

    /// `redis-cli PSUBSCRIBE 'news.*'` (no name) was once counted as an inbound
    /// listener: a connection without a Bytebot name is not judged, only noted.
    #[test]
    fn an_unnamed_pattern_subscriber_is_not_an_inbound_listener() {
        let clients = [client(1, "", 1, 0)];
        let news = Subscriptions {
            distinct_patterns: 1,
            channels: Vec::new(),
        };
        let report = report_clients(&clients, &news);
        assert!(report.contains("inbound     nobody"), "{report}");
        assert!(
            report.contains("note        1 subscribed connection(s) without a bytebot:<role>:<host> name: not judged"),
            "{report}"
        );
        assert!(!report.contains("bot(s) subscribed"), "{report}");
    }

    #[test]
    fn watchers_consoles_and_duplicate_bots_are_reported() {
        let clients = [
            client(1, "bytebot:example-subscriber:a", 1, 0),
            client(2, "bytebot:example-subscriber:b", 1, 0),
            client(3, "bytebot:example-subscriber:b", 0, 0),
            client(4, "bytebot:router-tools-watch:a", 3, 0),
            client(5, "bytebot:router-tools-chat:a", 1, 0),
        ];
        let report = report_clients(&clients, &Subscriptions::default());
        assert!(
            report.contains("warning     2 instances of example-subscriber are subscribed"),
            "{report}"
        );
        assert!(
            report.contains("watchers    1 router-tools watch: bytebot:router-tools-watch:a"),
            "{report}"
        );
        assert!(
            report.contains("consoles    1 router-tools chat: bytebot:router-tools-chat:a"),
            "{report}"
        );
        assert!(report.contains("inbound     2 bot(s)"), "{report}");
    }
}
