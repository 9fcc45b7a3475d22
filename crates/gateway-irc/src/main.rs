//! gateway-irc: parses flags, installs tracing and runs the IRC <-> Redis bridge.

use std::process::ExitCode;
use std::time::Duration;

use bytebot_gateway::GatewayArgs;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use gateway_irc::Config;
use gateway_irc::config::{IrcConfig, SaslPlain, ServerAddr, parse_channels};
use gateway_irc::flood::FloodLimit;
use secrecy::SecretString;

/// The IRC <-> Redis bridge: publishes channel and private messages on
/// `inbound.irc.*` and sends what arrives on `outbound.irc.*` to IRC.
#[derive(Debug, Parser)]
#[command(
    version,
    subcommand_negates_reqs = true,
    after_help = "Environment only (never a flag, so they do not show in `ps`):\n  \
                  IRC_PASSWORD       the server password (PASS)\n  \
                  IRC_SASL_PASSWORD  the SASL PLAIN password (with --sasl-user)\n\n\
                  Log levels come from RUST_LOG (default: info), e.g. RUST_LOG=gateway_irc=debug."
)]
struct Args {
    // Required, but an `Option` so that `gateway-irc healthcheck` parses without it:
    // clap waives the requirement for a subcommand, while a derived `String` field
    // would still fail to fill.
    /// The IRC server, host:port (port 6697 with --tls, else 6667, when omitted).
    #[arg(long, env = "IRC_SERVER", required = true)]
    server: Option<String>,
    /// Connect with TLS (1/0), verifying the certificate against the system's CAs.
    #[arg(long, env = "IRC_TLS", action = ArgAction::Set, default_value = "0", value_parser = BoolishValueParser::new())]
    tls: bool,
    /// With --tls, accept any certificate (a self-signed test server only).
    #[arg(long, env = "IRC_TLS_INSECURE", action = ArgAction::Set, default_value = "0", value_parser = BoolishValueParser::new())]
    tls_insecure: bool,
    /// The bot's nick; nick_, nick__, nick1... when it is taken.
    #[arg(long, env = "IRC_NICK", default_value = "bytebot")]
    nick: String,
    /// Channels to join, comma-separated; a key as #chan:key (the value is never printed).
    #[arg(
        long,
        env = "IRC_CHANNELS",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    channels: String,
    /// The topics' space segment for this server (default: from the host, irc.libera.chat -> libera).
    #[arg(long, env = "IRC_NETWORK")]
    network: Option<String>,
    /// The SASL PLAIN account (the password comes from IRC_SASL_PASSWORD).
    #[arg(long, env = "IRC_SASL_USER")]
    sasl_user: Option<String>,
    /// Lines the bot may send back to back before the flood limit paces it.
    #[arg(long, env = "IRC_FLOOD_BURST", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    flood_burst: u32,
    /// Milliseconds per line once the burst is spent.
    #[arg(long, env = "IRC_FLOOD_INTERVAL_MS", default_value_t = 2000)]
    flood_interval_ms: u64,
    /// Rejoin a channel the bot is kicked from (1/0).
    #[arg(long, env = "IRC_REJOIN_ON_KICK", action = ArgAction::Set, default_value = "1", value_parser = BoolishValueParser::new())]
    rejoin_on_kick: bool,
    /// Join channels the bot is invited to (1/0).
    #[arg(long, env = "IRC_JOIN_ON_INVITE", action = ArgAction::Set, default_value = "0", value_parser = BoolishValueParser::new())]
    join_on_invite: bool,
    /// The flags every gateway shares.
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(subcommand)]
    command: Option<bytebot_daemon::healthcheck::Command>,
}

/// A secret from the environment: `None` when unset or blank.
fn secret_from_env(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .map(SecretString::from)
}

/// PASS goes on one IRC line: with a line break or NUL in it the codec would refuse
/// it on every connection attempt, forever. Say so once, at start-up, without the
/// value.
fn check_server_password(password: &SecretString) -> Result<(), String> {
    use secrecy::ExposeSecret as _;
    if password.expose_secret().contains(['\r', '\n', '\0']) {
        return Err(
            "IRC_PASSWORD contains a line break or NUL, which an IRC line cannot carry".to_owned(),
        );
    }
    Ok(())
}

/// The validated configuration; errors never contain a password or a channel key.
fn config(args: Args) -> Result<Config, String> {
    let server = args
        .server
        .as_deref()
        .ok_or("IRC_SERVER (or --server) is not set")?;
    let server = ServerAddr::parse(server).map_err(|err| format!("IRC_SERVER {err}"))?;
    let mut irc = IrcConfig::new(server, args.nick.trim());
    if irc.nick.is_empty() || irc.nick.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err("IRC_NICK must be one word, e.g. bytebot".to_owned());
    }
    irc.tls = args.tls;
    irc.tls_insecure = args.tls_insecure;
    if args.tls_insecure && !args.tls {
        return Err("IRC_TLS_INSECURE=1 needs IRC_TLS=1".to_owned());
    }
    irc.channels = parse_channels(&args.channels).map_err(|err| format!("IRC_CHANNELS: {err}"))?;
    if let Some(network) = args.network.filter(|network| !network.trim().is_empty()) {
        irc.network = network.trim().to_owned();
    }
    irc.password = secret_from_env("IRC_PASSWORD");
    if let Some(password) = &irc.password {
        check_server_password(password)?;
    }
    irc.sasl = match (args.sasl_user, secret_from_env("IRC_SASL_PASSWORD")) {
        (Some(user), Some(password)) => Some(SaslPlain { user, password }),
        (None, None) => None,
        (Some(_), None) => {
            return Err("IRC_SASL_USER is set but IRC_SASL_PASSWORD is not".to_owned());
        }
        (None, Some(_)) => {
            return Err("IRC_SASL_PASSWORD is set but IRC_SASL_USER is not".to_owned());
        }
    };
    irc.flood = FloodLimit {
        burst: args.flood_burst,
        interval: Duration::from_millis(args.flood_interval_ms),
    };
    irc.rejoin_on_kick = args.rejoin_on_kick;
    irc.join_on_invite = args.join_on_invite;
    Ok(Config {
        irc,
        gateway: args.gateway.config(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(command) = &args.command {
        return command.run(args.gateway.http_addr);
    }
    bytebot_daemon::logging::init(args.gateway.log_format, "info");
    let config = match config(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gateway_irc::run(config, bytebot_core::shutdown::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", bytebot_daemon::logging::error_chain(&*err));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args = Args::try_parse_from(std::iter::once("gateway-irc").chain(args.iter().copied()))
            .map_err(|err| err.to_string())?;
        config(args)
    }

    #[test]
    fn flags_are_consistent_and_defaults_are_documented() {
        Args::command().debug_assert();
        let config = parse(&[
            "--server",
            "irc.libera.chat",
            "--channels",
            "#rust,#secret:k",
        ])
        .unwrap();
        assert_eq!(config.irc.network, "libera");
        assert_eq!(config.irc.server.port_or_default(config.irc.tls), 6667);
        assert_eq!(config.irc.flood, FloodLimit::default());
        assert!(config.irc.rejoin_on_kick && !config.irc.join_on_invite);
        assert_eq!(config.irc.channels.len(), 2);
        let config = parse(&[
            "--server",
            "h:7000",
            "--tls",
            "1",
            "--tls-insecure",
            "1",
            "--network",
            "test",
        ])
        .unwrap();
        assert!(config.irc.tls && config.irc.tls_insecure);
        assert_eq!(config.irc.network, "test");
        assert!(parse(&["--server", "h", "--tls-insecure", "1"]).is_err());
    }

    /// The container healthcheck runs `gateway-irc healthcheck` with only
    /// `BYTEBOT_HTTP_ADDR`: it must parse without the server the daemon needs.
    #[test]
    fn healthcheck_parses_without_a_server() {
        let args = Args::try_parse_from(["gateway-irc", "healthcheck"]).unwrap();
        assert!(args.command.is_some());
        assert!(Args::try_parse_from(["gateway-irc"]).is_err());
    }

    /// A server password with a line break cannot be sent (PASS is one line): refused
    /// at start-up rather than on every reconnection.
    #[test]
    fn a_server_password_with_a_line_break_is_refused() {
        for bad in ["pw\nsecret", "pw\r\nsecret", "pw\0secret"] {
            let err = check_server_password(&SecretString::from(bad)).expect_err(bad);
            assert!(err.contains("IRC_PASSWORD contains a line break"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
        assert!(check_server_password(&SecretString::from("pw with spaces")).is_ok());
    }

    /// Passwords are environment only: there is no flag that would show in `ps`.
    #[test]
    fn passwords_have_no_flags_and_help_shows_no_values() {
        assert!(parse(&["--server", "h", "--password", "x"]).is_err());
        assert!(parse(&["--server", "h", "--sasl-password", "x"]).is_err());
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("IRC_PASSWORD"));
    }
}
