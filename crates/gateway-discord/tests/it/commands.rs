//! Application commands sync against the fake Discord: one write for a new or changed
//! file, none when Discord already holds it (Discord limits creates per day), guild mode
//! writes to the listed guilds only, and only the process running shard 0 syncs.

use discord_commands::Commands;
use gateway_discord::{CommandSync, Config, Sharding};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::fake_discord::FakeDiscord;
use crate::support::{PATIENCE, config};
use bytebot_test_support::{RedisServer, free_local_addr, wait_for_status};

const TEST_GUILD: u64 = 1_190_804_811_990_446_190;
const OTHER_GUILD: u64 = 1_190_804_811_990_446_191;

fn example_commands() -> Value {
    json!([
        {"name": "ping", "description": "Answers pong"},
        {"name": "roll", "description": "Rolls dice", "name_localizations": {"fr": "lancer"},
         "options": [
            {"type": 3, "name": "dice", "description": "NdM", "required": true},
            {"type": 5, "name": "secret", "description": "Only you see it", "required": false},
         ]},
    ])
}

fn sync(file: &Value, guilds: &[u64]) -> CommandSync {
    CommandSync {
        commands: Commands::parse(&file.to_string()).expect("a valid commands file"),
        guilds: guilds.to_vec(),
    }
}

/// Runs the gateway until it is ready (the sync comes before the Discord session, so
/// it is done by then), then stops it.
async fn run_until_ready(
    redis: &RedisServer,
    discord: &FakeDiscord,
    configure: impl FnOnce(&mut Config),
) {
    let mut config = config(redis, discord);
    let http_addr = free_local_addr();
    config.gateway.http_addr = Some(http_addr);
    configure(&mut config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(gateway_discord::run(config, async {
        let _ = stopped.await;
    }));
    if let Err(err) = wait_for_status(http_addr, "/readyz", 200).await {
        task.abort();
        panic!("the gateway never became ready: {err:?} ({:?})", task.await);
    }
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("the gateway stops in time")
        .expect("no panic")
        .expect("the gateway ends cleanly");
}

/// The first start writes the file once; a restart with the same file writes nothing,
/// although Discord's answer has ids, versions, defaults and no `required: false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_once_and_not_again_when_unchanged() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let file = example_commands();
    run_until_ready(&redis, &discord, |config| {
        config.commands = Some(sync(&file, &[]))
    })
    .await;
    let writes = discord.command_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].guild_id, None);
    assert_eq!(writes[0].body, file, "the file is written as it is");
    let stored = discord.commands(None);
    assert_eq!(stored.len(), 2);
    assert!(stored[0]["id"].is_string() && stored[0]["version"].is_string());

    run_until_ready(&redis, &discord, |config| {
        config.commands = Some(sync(&file, &[]))
    })
    .await;
    assert_eq!(
        discord.command_writes().len(),
        1,
        "a restart with the same file wrote"
    );
    // It did look: a GET with the localizations, so a changed translation would count.
    let reads: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|request| request.method == "GET" && request.path.ends_with("/commands"))
        .collect();
    assert_eq!(reads.len(), 2);
    assert!(
        reads.iter().all(|read| read
            .query
            .split('&')
            .any(|pair| pair == "with_localizations=true")),
        "{reads:?}"
    );
}

/// A changed file (here: one translation) is one more write, with the new file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_written_once() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let file = example_commands();
    run_until_ready(&redis, &discord, |config| {
        config.commands = Some(sync(&file, &[]))
    })
    .await;
    let mut changed = file.clone();
    changed[1]["name_localizations"]["fr"] = json!("dés");
    for _ in 0..2 {
        run_until_ready(&redis, &discord, |config| {
            config.commands = Some(sync(&changed, &[]));
        })
        .await;
    }
    let writes = discord.command_writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[1].body, changed);
    assert_eq!(discord.commands(None)[1]["name_localizations"]["fr"], "dés");
}

/// With --command-guilds the commands go to each listed guild and the global commands
/// are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_mode_writes_to_the_guilds_only() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let file = example_commands();
    for _ in 0..2 {
        run_until_ready(&redis, &discord, |config| {
            config.commands = Some(sync(&file, &[TEST_GUILD, OTHER_GUILD]));
        })
        .await;
    }
    let writes = discord.command_writes();
    let guilds: Vec<Option<u64>> = writes.iter().map(|write| write.guild_id).collect();
    assert_eq!(guilds, [Some(TEST_GUILD), Some(OTHER_GUILD)]);
    assert!(discord.commands(None).is_empty());
    assert_eq!(discord.commands(Some(TEST_GUILD)).len(), 2);
    assert!(
        !discord.requests().iter().any(|request| request
            .path
            .ends_with(&format!("{}/commands", 900_000_000_000_000_002_u64))),
        "the global commands were touched"
    );
}

/// Under sharding, a process that does not run shard 0 leaves the commands alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_process_running_shard_0_syncs() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(2, 1);
    let file = example_commands();
    run_until_ready(&redis, &discord, |config| {
        config.sharding = Some(Sharding::new("1-1".parse().unwrap(), 2).unwrap());
        config.commands = Some(sync(&file, &[]));
    })
    .await;
    assert!(discord.command_writes().is_empty());
    run_until_ready(&redis, &discord, |config| {
        config.sharding = Some(Sharding::new("0-0".parse().unwrap(), 2).unwrap());
        config.commands = Some(sync(&file, &[]));
    })
    .await;
    assert_eq!(discord.command_writes().len(), 1);
}

/// Without --commands nothing is read or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_commands_file_no_command_requests() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    run_until_ready(&redis, &discord, |_| {}).await;
    assert!(
        !discord
            .requests()
            .iter()
            .any(|request| request.path.contains("/commands")),
        "{:?}",
        discord.requests()
    );
}

/// A file that breaks Discord's rules stops the binary at start, before any request,
/// with the command and field at fault (and never the token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_a_startup_error_that_names_command_and_field() {
    let directory = std::env::temp_dir().join(format!("bytebot-commands-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("bad.commands.json");
    std::fs::write(
        &path,
        r#"[{"name": "ping", "description": "pong"},
            {"name": "roll", "description": "dice", "options": [{"type": 3, "name": "Dice", "description": "NdM"}]}]"#,
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gateway-discord"));
    command
        .env_clear()
        .env("DISCORD_TOKEN", crate::support::TOKEN)
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("DISCORD_API_URL", "http://127.0.0.1:1")
        .env("BYTEBOT_COMMANDS", &path)
        .env("BYTEBOT_COMMAND_GUILDS", "1,2");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "commands[1] /roll: options[0].name: must be lowercase for chat input commands and options"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("bad.commands.json"), "{stderr}");
    assert!(!stderr.contains(crate::support::TOKEN), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
