//! gateway-discord: parses flags, installs tracing and runs the Discord <-> Redis bridge.

use std::process::ExitCode;
use std::time::Duration;

use bytebot_gateway::GatewayArgs;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use discord_commands::Commands;
use gateway_discord::{CommandSync, Config, InteractionSettings, ShardRange, Sharding};
use secrecy::SecretString;

/// The Discord <-> Redis bridge: publishes Discord messages on `inbound.discord.*` and
/// sends what arrives on `outbound.discord.*` to Discord.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Environment only (never a flag, so it does not show in `ps`):\n  \
                  DISCORD_TOKEN  the bot token (developer portal > your app > Bot > Reset Token)\n\n\
                  Log levels come from RUST_LOG (default: info), e.g. RUST_LOG=gateway_discord=debug."
)]
struct Args {
    /// Send Discord REST calls to this proxy (e.g. http://nirn-proxy:8080); turns serenity's rate limiter off.
    #[arg(long, env = "DISCORD_API_URL", value_parser = parse_api_url, hide_env_values = true)]
    discord_api_url: Option<String>,
    /// Let envelopes with "mentions": "all" ping @everyone, @here and roles.
    #[arg(long, env = "BYTEBOT_ALLOW_MASS_MENTIONS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    allow_mass_mentions: bool,
    /// Run only these shards, both ends included (e.g. 0-3, or 5); needs --shard-count. Default: every shard.
    #[arg(long, env = "BYTEBOT_SHARDS", value_name = "START-END", value_parser = parse_shards)]
    shards: Option<ShardRange>,
    /// The bot's total number of shards, the same in every process; needs --shards. Default: Discord's recommendation.
    #[arg(long, env = "BYTEBOT_SHARD_COUNT", value_name = "N")]
    shard_count: Option<u32>,
    /// Application commands to sync at start: a JSON array in Discord's own format (check it with `router-tools commands check FILE`). Written only when Discord's copy differs; under sharding, by the process running shard 0.
    #[arg(long, env = "BYTEBOT_COMMANDS", value_name = "FILE")]
    commands: Option<std::path::PathBuf>,
    /// Sync the commands to these guilds instead of globally (guild commands update at once: for testing). Needs --commands.
    #[arg(long, env = "BYTEBOT_COMMAND_GUILDS", value_name = "ID,ID", value_parser = parse_guild_ids, default_value = "", hide_default_value = true)]
    command_guilds: GuildIds,
    /// Ask for the privileged Message Content intent. With false, message text arrives only in DMs, messages that mention the bot and replies to it (enough for slash commands and buttons).
    #[arg(long, env = "BYTEBOT_MESSAGE_CONTENT", value_name = "BOOL", default_value_t = true, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    message_content: bool,
    /// Defer an interaction nobody answered within this many seconds (Discord drops it at 3).
    #[arg(long, env = "BYTEBOT_INTERACTION_DEFER_AFTER", value_name = "SECONDS", default_value = "2.5", value_parser = parse_defer_after)]
    interaction_defer_after: Duration,
    /// Show --interaction-notice on an interaction nobody answered within this many seconds.
    #[arg(long, env = "BYTEBOT_INTERACTION_NOTICE_AFTER", value_name = "SECONDS", default_value = "60", value_parser = parse_notice_after)]
    interaction_notice_after: Duration,
    /// What a user sees when nobody answered their interaction.
    #[arg(long, env = "BYTEBOT_INTERACTION_NOTICE", value_name = "TEXT", default_value = gateway_discord::DEFAULT_NOTICE)]
    interaction_notice: String,
    /// Publish member joins (member_joined on inbound.discord.<guild>.%40space.<user>); asks for the privileged Server Members intent, which the developer portal must allow.
    #[arg(long, env = "BYTEBOT_MEMBER_EVENTS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    member_events: bool,
    /// The flags every gateway shares.
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(subcommand)]
    command: Option<bytebot_daemon::healthcheck::Command>,
}

/// Seconds as a decimal number (`2.5`), within `range` (in milliseconds).
fn parse_seconds(raw: &str, range: std::ops::RangeInclusive<u64>) -> Result<Duration, String> {
    let seconds: f64 = raw
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 2.5".to_owned())?;
    let millis = (seconds * 1000.0).round();
    if !millis.is_finite() || millis < *range.start() as f64 || millis > *range.end() as f64 {
        return Err(format!(
            "expected from {} to {} seconds",
            *range.start() as f64 / 1000.0,
            *range.end() as f64 / 1000.0
        ));
    }
    Ok(Duration::from_millis(millis as u64))
}

/// Under Discord's 3 s, with room for the request itself.
fn parse_defer_after(raw: &str) -> Result<Duration, String> {
    parse_seconds(raw, 0..=2900)
}

/// Within the interaction's 15 minutes.
fn parse_notice_after(raw: &str) -> Result<Duration, String> {
    parse_seconds(
        raw,
        1000..=gateway_discord::TOKEN_LIFETIME.as_millis() as u64 - 1000,
    )
}

fn parse_shards(raw: &str) -> Result<ShardRange, String> {
    raw.parse()
        .map_err(|err: gateway_discord::ShardsError| err.to_string())
}

/// Guild ids, comma-separated; empty (as compose passes an unset variable): none.
#[derive(Debug, Clone, Default, PartialEq)]
struct GuildIds(Vec<u64>);

fn parse_guild_ids(raw: &str) -> Result<GuildIds, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<u64>().ok().filter(|id| *id != 0).ok_or_else(|| {
                "expected guild ids (positive integers, comma-separated, e.g. 1190804811990446190)"
                    .to_owned()
            })
        })
        .collect::<Result<_, _>>()
        .map(GuildIds)
}

/// An `http://` or `https://` base URL, without a trailing slash.
fn parse_api_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err("expected an http:// or https:// URL, e.g. http://127.0.0.1:8080".into());
    }
    Ok(trimmed.to_owned())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(command) = &args.command {
        return command.run(args.gateway.http_addr);
    }
    let sharding = match Sharding::from_flags(args.shards, args.shard_count) {
        Ok(sharding) => sharding,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2); // a usage error, as clap's own
        }
    };
    let commands = match &args.commands {
        None if !args.command_guilds.0.is_empty() => {
            eprintln!(
                "error: --command-guilds (BYTEBOT_COMMAND_GUILDS) needs --commands (BYTEBOT_COMMANDS): which commands to sync"
            );
            return ExitCode::from(2); // a usage error, as clap's own
        }
        None => None,
        Some(path) => match Commands::load(path) {
            Ok(commands) => Some(CommandSync {
                commands,
                guilds: args.command_guilds.0.clone(),
            }),
            Err(err) => {
                eprintln!("error: {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    bytebot_daemon::logging::init(args.gateway.log_format, "info");
    let token = match std::env::var("DISCORD_TOKEN") {
        Ok(token) if !token.trim().is_empty() => SecretString::from(token),
        _ => {
            eprintln!(
                "error: DISCORD_TOKEN is not set: put the bot token (developer portal > your app > Bot > Reset Token) in the environment"
            );
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        discord_api_url: args.discord_api_url,
        allow_mass_mentions: args.allow_mass_mentions,
        sharding,
        commands,
        message_content: args.message_content,
        interactions: InteractionSettings {
            defer_after: args.interaction_defer_after,
            notice_after: args
                .interaction_notice_after
                .max(args.interaction_defer_after),
            notice: args.interaction_notice,
        },
        member_events: args.member_events,
        gateway: args.gateway.config(),
        ..Config::new(token, args.gateway.redis_url.clone())
    };
    // One thread: per message the gateway parses, converts and hands bytes between
    // sockets, and a multi-threaded runtime spends more on waking its other threads
    // than that work takes (CPU per message of `tests/it/profile.rs`: inbound 0.040 ->
    // 0.027 s per 1000, outbound 0.105 -> 0.05-0.08). Nothing here blocks a thread
    // (serenity's DNS lookups use the blocking pool). A process past one core of
    // traffic splits its shards over more processes (`--shards`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(gateway_discord::run(
        config,
        bytebot_core::shutdown::signal(),
    )) {
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

    #[test]
    fn flags_are_consistent() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["gateway-discord", "--include-bots"]).unwrap();
        assert!(args.gateway.include_bots);
        assert!(Args::try_parse_from(["gateway-discord", "--token", "x"]).is_err());
    }

    #[test]
    fn shard_flags_parse_and_go_together() {
        let args =
            Args::try_parse_from(["gateway-discord", "--shards", "3-5", "--shard-count", "8"])
                .unwrap();
        let sharding = Sharding::from_flags(args.shards, args.shard_count)
            .unwrap()
            .unwrap();
        assert_eq!(sharding.range.to_string(), "3-5");
        assert_eq!(sharding.count, 8);
        let err = Args::try_parse_from(["gateway-discord", "--shards", "3-1"]).unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
        let args =
            Args::try_parse_from(["gateway-discord", "--shards", "7-8", "--shard-count", "8"])
                .unwrap();
        assert!(Sharding::from_flags(args.shards, args.shard_count).is_err());
    }

    /// `--commands` and `--command-guilds` (a list), and `--message-content` as a
    /// boolean flag or variable (`BYTEBOT_MESSAGE_CONTENT=0`), on by default.
    #[test]
    fn command_and_intent_flags_parse() {
        let args = Args::try_parse_from([
            "gateway-discord",
            "--commands",
            "deploy/example-subscriber.commands.json",
            "--command-guilds",
            "1190804811990446190,42",
        ])
        .unwrap();
        assert_eq!(args.command_guilds.0, [1_190_804_811_990_446_190, 42]);
        assert!(args.message_content);
        let args = Args::try_parse_from(["gateway-discord", "--command-guilds", ""]).unwrap();
        assert!(args.command_guilds.0.is_empty());
        let err = Args::try_parse_from([
            "gateway-discord",
            "--commands",
            "f",
            "--command-guilds",
            "1,x",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("expected guild ids"), "{err}");
        for (raw, expected) in [
            ("false", false),
            ("0", false),
            ("no", false),
            ("true", true),
            ("1", true),
        ] {
            let args =
                Args::try_parse_from(["gateway-discord", &format!("--message-content={raw}")])
                    .unwrap();
            assert_eq!(args.message_content, expected, "{raw}");
        }
    }

    /// The interaction deadlines are seconds, fractions allowed, within Discord's rules.
    #[test]
    fn interaction_flags_take_seconds_within_discords_limits() {
        let args = Args::try_parse_from(["gateway-discord"]).unwrap();
        assert_eq!(args.interaction_defer_after, Duration::from_millis(2500));
        assert_eq!(args.interaction_notice_after, Duration::from_secs(60));
        assert_eq!(args.interaction_notice, gateway_discord::DEFAULT_NOTICE);
        let args = Args::try_parse_from([
            "gateway-discord",
            "--interaction-defer-after",
            "0.2",
            "--interaction-notice-after",
            "5",
        ])
        .unwrap();
        assert_eq!(args.interaction_defer_after, Duration::from_millis(200));
        assert_eq!(args.interaction_notice_after, Duration::from_secs(5));
        for bad in [
            ["--interaction-defer-after", "3"],
            ["--interaction-defer-after", "x"],
            ["--interaction-notice-after", "900"],
        ] {
            let mut argv = vec!["gateway-discord"];
            argv.extend(bad);
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    /// serenity appends `/api/v10/...` to the proxy URL: a trailing slash would double it.
    #[test]
    fn api_urls_are_http_without_a_trailing_slash() {
        assert_eq!(
            parse_api_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(parse_api_url("127.0.0.1:8080").is_err());
        assert!(parse_api_url("ws://127.0.0.1:8080").is_err());
    }
}
