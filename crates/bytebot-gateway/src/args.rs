//! [`GatewayArgs`]: the command-line flags every gateway binary shares, flattened into
//! its own clap `Args` next to its platform's flags.

use std::net::SocketAddr;
use std::time::Duration;

use bytebot_core::bus::{DEFAULT_REDIS_URL, RedisUrl};
use bytebot_daemon::LogFormat;
use clap::builder::{BoolishValueParser, TypedValueParser as _};
use clap::{ArgAction, Args};

use crate::runtime::{DEFAULT_MAX_PARTS, GatewayConfig};

/// The flags every gateway takes (`#[command(flatten)]` them into a binary's flags).
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Where Redis is; prints redacted.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = DEFAULT_REDIS_URL,
        hide_env_values = true,
        help = "Redis URL: redis://[user:password@]host[:port][/db], rediss:// for TLS."
    )]
    pub redis_url: RedisUrl,
    /// Also publish messages written by other bots (never the gateway's own).
    #[arg(long, env = "BYTEBOT_INCLUDE_BOTS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub include_bots: bool,
    /// Refuse (failed receipt) an outbound message that would be split into more than this many messages.
    #[arg(long, env = "BYTEBOT_MAX_PARTS", default_value_t = DEFAULT_MAX_PARTS, value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub max_parts: usize,
    /// Log format (levels come from RUST_LOG, default info).
    #[arg(long, env = "BYTEBOT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds to finish sends in flight on SIGINT/SIGTERM before exiting.
    #[arg(long, env = "BYTEBOT_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9090); off when unset.
    #[arg(long, env = "BYTEBOT_HTTP_ADDR", global = true)]
    pub http_addr: Option<SocketAddr>,
}

impl GatewayArgs {
    /// The runtime's configuration from these flags (default limits, fresh counters).
    pub fn config(&self) -> GatewayConfig {
        GatewayConfig {
            http_addr: self.http_addr,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            include_bots: self.include_bots,
            max_parts: self.max_parts,
            ..GatewayConfig::new(self.redis_url.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        gateway: GatewayArgs,
    }

    #[test]
    fn flags_are_consistent_and_max_parts_defaults_to_ten() {
        Flags::command().debug_assert();
        let flags = Flags::try_parse_from(["gateway"]).unwrap();
        assert_eq!(flags.gateway.config().max_parts, 10);
        let flags = Flags::try_parse_from(["gateway", "--max-parts", "3"]).unwrap();
        assert_eq!(flags.gateway.config().max_parts, 3);
        assert!(Flags::try_parse_from(["gateway", "--max-parts", "0"]).is_err());
    }
}
