//! Application commands sync: the commands file (`--commands`, Discord's own JSON
//! format, checked by the `discord-commands` crate) is written to Discord at start,
//! only when Discord's copy differs from it.
//!
//! Discord limits command creates per day, so the sync is idempotent: it reads the
//! commands Discord holds (`GET .../commands?with_localizations=true`), compares what
//! a write would change (`discord_commands::changes`, which ignores ids, versions and
//! Discord's defaults), and only then replaces them all in one bulk overwrite (`PUT`).
//! With `--command-guilds` it syncs to each listed guild instead (guild commands update
//! at once: for testing) and leaves the global commands alone.
//!
//! Under sharding only the process that runs shard 0 syncs (`lib.rs`), so several
//! processes never race to write.

use anyhow::Context as _;
use discord_commands::Commands;
use serde_json::Value;
use serenity::all::{ApplicationId, GuildId};
use serenity::http::{HttpError, LightMethod, Request, Route};

/// What to sync: the checked file, and where.
#[derive(Debug, Clone)]
pub struct CommandSync {
    /// The commands, checked against Discord's rules when the file was loaded.
    pub commands: Commands,
    /// Ids of the guilds to sync to instead of globally; empty: global commands.
    pub guilds: Vec<u64>,
}

/// Syncs the commands globally or to each guild. An error names the request and, when
/// Discord refused the file, the command and field it pointed at.
pub(crate) async fn sync(http: &serenity::http::Http, sync: &CommandSync) -> anyhow::Result<()> {
    let application_id = application_id(http).await?;
    let scopes: Vec<Option<GuildId>> = if sync.guilds.is_empty() {
        vec![None]
    } else {
        sync.guilds
            .iter()
            .map(|id| Some(GuildId::new(*id)))
            .collect()
    };
    for guild_id in scopes {
        sync_one(http, application_id, guild_id, &sync.commands).await?;
    }
    Ok(())
}

async fn sync_one(
    http: &serenity::http::Http,
    application_id: ApplicationId,
    guild_id: Option<GuildId>,
    commands: &Commands,
) -> anyhow::Result<()> {
    let route = || match guild_id {
        None => Route::Commands { application_id },
        Some(guild_id) => Route::GuildCommands {
            application_id,
            guild_id,
        },
    };
    let scope = guild_id.map_or_else(|| "global".to_owned(), |guild| format!("guild {guild}"));
    let path = match guild_id {
        None => format!("/applications/{application_id}/commands"),
        Some(guild) => format!("/applications/{application_id}/guilds/{guild}/commands"),
    };
    // With the localizations, so that a changed translation is seen as a change.
    let existing: Vec<Value> = http
        .fire(
            Request::new(route(), LightMethod::Get)
                .params(Some(vec![("with_localizations", "true".to_owned())])),
        )
        .await
        .with_context(|| format!("reading the {scope} application commands (GET {path})"))?;
    let changes = commands.changes(&existing);
    if changes.is_empty() {
        tracing::info!(%scope, n_commands = commands.len(), "application commands unchanged: nothing written");
        return Ok(());
    }
    let body = serde_json::to_vec(commands.as_slice()).context("encoding the commands")?;
    let _written: Vec<Value> = http
        .fire(Request::new(route(), LightMethod::Put).body(Some(body)))
        .await
        .map_err(|err| refused(err, commands))
        .with_context(|| format!("writing the {scope} application commands (PUT {path})"))?;
    tracing::info!(%scope, n_commands = commands.len(), %changes, "application commands written");
    Ok(())
}

/// The application id (the commands' owner), from `GET /oauth2/applications/@me`;
/// also given to serenity's `Http`, which needs it for interaction responses.
async fn application_id(http: &serenity::http::Http) -> anyhow::Result<ApplicationId> {
    if let Some(id) = http.application_id() {
        return Ok(id);
    }
    let application: Value = http
        .fire(Request::new(
            Route::Oauth2ApplicationCurrent,
            LightMethod::Get,
        ))
        .await
        .context("asking discord for the application id (GET /oauth2/applications/@me)")?;
    let id = application["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id != 0)
        .context("discord's application (GET /oauth2/applications/@me) has no id")?;
    let id = ApplicationId::new(id);
    http.set_application_id(id);
    Ok(id)
}

/// Discord's refusal of a write, with each error's path (`0.options.1.name`) told as
/// the file's command (`commands[0] /roll: options.1.name`).
fn refused(err: serenity::Error, commands: &Commands) -> anyhow::Error {
    let serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) = &err else {
        return anyhow::Error::new(err);
    };
    let mut message = format!(
        "discord refused the commands ({}, code {}: {})",
        response.status_code, response.error.code, response.error.message
    );
    for error in &response.error.errors {
        let (index, field) = error.path.split_once('.').unwrap_or((&error.path, ""));
        let command = index
            .parse::<usize>()
            .ok()
            .and_then(|index| {
                commands
                    .as_slice()
                    .get(index)
                    .map(|command| (index, command))
            })
            .map_or_else(
                || index.to_owned(),
                |(index, command)| {
                    format!(
                        "commands[{index}] {}",
                        command["name"].as_str().unwrap_or_default()
                    )
                },
            );
        message.push_str(&format!(
            "; {command}: {field}: {} ({})",
            error.message, error.code
        ));
    }
    anyhow::anyhow!(message)
}
