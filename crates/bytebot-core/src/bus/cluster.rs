//! Redis Cluster: `redis+cluster://host:port[,host:port...]` (`rediss+cluster://` for
//! TLS), and [`Connection`], a connection for keyed commands on one node or a cluster.
//!
//! **Pub/sub needs no cluster routing.** In a Redis Cluster, `PUBLISH` on any node is
//! forwarded over the cluster bus to every other node, masters and replicas, and a
//! `PSUBSCRIBE` on any node receives what is published anywhere. So [`Publisher`] and
//! [`Subscription`] keep their plain, per-node RESP3 connection to *one* node of the
//! list, and move to the next node when that one fails ([`BusConfig`] tries the nodes
//! in turn). This keeps the order of one publisher's messages (one node, one TCP
//! stream, then one cluster-bus link to each subscriber's node), needs no slot
//! routing (redis-rs' cluster connection routes `PUBLISH` by its channel's slot, so a
//! pipeline of different channels would fail with `CROSSSLOT`), and lets a subscriber
//! move at once to a live node when its node dies, instead of waiting for the cluster
//! to promote a replica for the slot its pattern hashes to (as redis-rs' cluster
//! `psubscribe` does).
//!
//! **Keys do.** Claims of replica groups ([`crate::group`]) are keys, each in its slot:
//! they go through redis-rs' `cluster_async::ClusterConnection` (feature
//! `cluster-async`), which follows `MOVED` and topology changes, wrapped with the
//! single-node connection in [`Connection`].
//!
//! List several nodes: a program starts only if one of the listed nodes answers.
//!
//! [`Publisher`]: super::Publisher
//! [`Subscription`]: super::Subscription

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::{BusConfig, BusError, RedisUrl};

/// The scheme of a cluster URL and the scheme each of its nodes is parsed with.
const SCHEMES: [(&str, &str); 4] = [
    ("redis+cluster", "redis"),
    ("rediss+cluster", "rediss"),
    ("valkey+cluster", "redis"),
    ("valkeys+cluster", "rediss"),
];

/// A cluster URL read into one URL per listed node, and the whole as it prints.
pub(super) struct ClusterUrl {
    pub(super) nodes: Vec<RedisUrl>,
    pub(super) printed: String,
}

/// `None` when `input` is not a cluster URL; otherwise its nodes, each checked by
/// [`RedisUrl::parse`] as `redis://[user:password@]host:port[#fragment]`, so the
/// password rules and redaction are those of a single URL. The error never contains
/// the input.
pub(super) fn parse(input: &str) -> Option<Result<ClusterUrl, String>> {
    let (scheme, rest) = input.split_once("://")?;
    let node_scheme = SCHEMES
        .iter()
        .find(|(cluster, _)| scheme.eq_ignore_ascii_case(cluster))?
        .1;
    Some(parse_nodes(scheme, node_scheme, rest))
}

fn parse_nodes(scheme: &str, node_scheme: &str, rest: &str) -> Result<ClusterUrl, String> {
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, format!("#{fragment}")),
        None => (rest, String::new()),
    };
    // The user and password apply to every node: a cluster has one ACL.
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.trim_end_matches('/');
    if hosts.contains(['/', '?']) {
        return Err(format!(
            "a {scheme}:// URL is a list of host:port (no database, path or query: a cluster has only database 0)"
        ));
    }
    let mut nodes = Vec::new();
    for host in hosts.split(',') {
        if host.is_empty() {
            return Err(format!(
                "a {scheme}:// URL lists nodes as host:port[,host:port...], one of them is empty"
            ));
        }
        let node = RedisUrl::parse(&format!("{node_scheme}://{userinfo}{host}{fragment}"))
            .map_err(|err| {
                // The reason alone: the caller's error already says "invalid redis url".
                let reason = match err {
                    BusError::InvalidUrl { reason } => reason,
                    other => other.to_string(),
                };
                format!("node {} of the list: {reason}", nodes.len() + 1)
            })?;
        nodes.push(node);
    }
    let printed_hosts: Vec<&str> = nodes
        .iter()
        .map(|node| {
            let printed = node.redacted();
            let printed = printed.split_once("://").map_or(printed, |(_, rest)| rest);
            // The user and password print once, on the first node.
            printed.rsplit_once('@').map_or(printed, |(_, host)| host)
        })
        .map(|host| host.split('#').next().unwrap_or(host))
        .collect();
    let printed_userinfo = nodes
        .first()
        .and_then(|node| {
            let printed = node.redacted();
            let rest = printed.split_once("://")?.1;
            Some(format!("{}@", rest.rsplit_once('@')?.0))
        })
        .unwrap_or_default();
    let printed = format!(
        "{}://{printed_userinfo}{}{fragment}",
        scheme.to_ascii_lowercase(),
        printed_hosts.join(",")
    );
    Ok(ClusterUrl { nodes, printed })
}

/// A connection for keyed commands (claims): to the one node of a `redis://` URL, or
/// to a whole cluster, routed by key slot. Cheap to clone.
#[derive(Clone)]
pub enum Connection {
    /// One node.
    Node(MultiplexedConnection),
    /// A Redis Cluster (`redis+cluster://`).
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connection::Node(_) => "Connection::Node",
            Connection::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Node(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Node(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Node(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A named connection for keyed commands: one node, or the whole cluster for a
/// `redis+cluster://` URL.
pub async fn connect_keyed(config: &BusConfig) -> Result<Connection, BusError> {
    let nodes = config.url().nodes();
    if nodes.is_empty() {
        return super::connect(config).await.map(Connection::Node);
    }
    let client = ClusterClientBuilder::new(nodes.iter().map(RedisUrl::connection_info_resp3))
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(config.connection_timeout)
        .response_timeout(config.response_timeout)
        .build()
        .map_err(|err| config.redis_error(err))?;
    let mut connection = client
        .get_async_connection()
        .await
        .map_err(|err| config.redis_error(err))?;
    // Routed to every node.
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(config.client_name())
        .exec_async(&mut connection)
        .await
        .map_err(|err| config.redis_error(err))?;
    Ok(Connection::Cluster(connection))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> ClusterUrl {
        parse(input).expect("a cluster url").expect("valid")
    }

    #[test]
    fn cluster_urls_list_their_nodes_and_print_without_the_password() {
        let url = parsed("redis+cluster://bot:s3cret@10.0.0.1:7000,10.0.0.2:7001");
        assert_eq!(url.nodes.len(), 2);
        assert!(url.nodes.iter().all(RedisUrl::has_password));
        assert_eq!(
            url.printed,
            "redis+cluster://bot:***@10.0.0.1:7000,10.0.0.2:7001"
        );
        let one = parsed("redis+cluster://127.0.0.1:7000");
        assert_eq!(one.printed, "redis+cluster://127.0.0.1:7000");
        let tls = parsed("rediss+cluster://h1:7000,h2:7000#insecure");
        assert_eq!(tls.printed, "rediss+cluster://h1:7000,h2:7000#insecure");
        assert!(parse("redis://127.0.0.1:6379").is_none());
    }

    #[test]
    fn bad_cluster_urls_say_why_without_the_password() {
        for bad in [
            "redis+cluster://bot:s3cret@h1:7000,,h2:7000",
            "redis+cluster://bot:s3cret@h1:7000/2",
            "redis+cluster://bot:s3cret@h1:notaport",
            "rediss+cluster://bot:s3%0Acret@h1:7000",
        ] {
            let err = parse(bad).unwrap().err().expect("refused");
            assert!(!err.contains("s3cret"), "{err}");
            assert!(!err.contains("s3%0Acret"), "{err}");
        }
        let err = RedisUrl::parse("redis+cluster://bot:s3cret@h1:notaport")
            .expect_err("refused")
            .to_string();
        assert_eq!(
            err,
            "invalid redis url: node 1 of the list: the port is not a number from 1 to 65535"
        );
    }
}
