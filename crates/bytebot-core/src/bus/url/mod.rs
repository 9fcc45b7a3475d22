//! `RedisUrl`: a checked Redis URL that cannot print its password.
//!
//! The rules and the printed form live in `check`; with the `clap` feature, `RedisUrl`
//! is also a clap argument whose errors never repeat the raw value (`clap_arg`).

mod check;
#[cfg(feature = "clap")]
mod clap_arg;
#[cfg(test)]
mod tests;

use std::fmt;

use super::BusError;

#[cfg(feature = "clap")]
pub use clap_arg::RedisUrlParser;

/// The URL every Bytebot program uses when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A Redis URL: `redis://`, `rediss://` (TLS), or `redis+unix://` / `unix://` (a
/// socket), with optional user, password and database.
///
/// It deliberately has no `FromStr`: clap would use it and print the raw value in its
/// "invalid value" line. A clap field of this type needs the `clap` feature (a compile
/// error otherwise), which reports errors without the value.
///
/// `Display` and `Debug` show a form rebuilt from the parsed parts (scheme, user, host,
/// port, database, socket path) with the password, if any, as `***`: the input is
/// never printed, so neither is a password hidden in it by percent-escapes or by a
/// malformed URL. Errors say which part is wrong without quoting the input. The
/// password is only handed to the Redis driver.
#[derive(Clone)]
pub struct RedisUrl {
    info: redis::ConnectionInfo,
    printed: String,
    has_password: bool,
    /// For a cluster URL (`redis+cluster://`, read in `bus/cluster.rs`), one URL per
    /// listed node (`info` is the first one's); empty otherwise.
    nodes: Vec<RedisUrl>,
}

impl RedisUrl {
    /// Parses and checks a URL (see the README's "Configuration" for what is accepted).
    /// The error says what is wrong and never contains the input.
    pub fn parse(input: &str) -> Result<RedisUrl, BusError> {
        if let Some(cluster) = super::cluster::parse(input) {
            let cluster = cluster.map_err(|reason| BusError::InvalidUrl { reason })?;
            let first = &cluster.nodes[0];
            return Ok(RedisUrl {
                info: first.info.clone(),
                printed: cluster.printed,
                has_password: first.has_password,
                nodes: cluster.nodes,
            });
        }
        let checked = check::check(input).map_err(|reason| BusError::InvalidUrl { reason })?;
        Ok(RedisUrl {
            info: checked.info,
            printed: checked.printed,
            has_password: checked.has_password,
            nodes: Vec::new(),
        })
    }

    /// Whether this is a Redis Cluster URL (`redis+cluster://host:port[,host:port...]`).
    pub fn is_cluster(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// The listed nodes of a cluster URL; empty for a single server.
    pub(super) fn nodes(&self) -> &[RedisUrl] {
        &self.nodes
    }

    /// The URL as it prints: rebuilt from its parts, the password as `***`.
    pub fn redacted(&self) -> &str {
        &self.printed
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.has_password
    }

    pub(super) fn connection_info_resp3(&self) -> redis::ConnectionInfo {
        let settings = self
            .info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        self.info.clone().set_redis_settings(settings)
    }
}

impl Default for RedisUrl {
    fn default() -> RedisUrl {
        RedisUrl::parse(DEFAULT_REDIS_URL).expect("the default redis url is valid")
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.printed)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.printed).finish()
    }
}
