//! Discord interactions (slash commands, components, modals, autocomplete): each
//! `INTERACTION_CREATE` is published as an `interaction` envelope, and the interaction
//! actions that answer it (by the envelope's id, `in_reply_to`) become Discord's
//! callback and webhook requests.
//!
//! The interaction token, a bearer credential for 15 minutes, lives only here: in a
//! bounded map keyed by envelope id ([`Interactions`]), forgotten at expiry. Only the
//! process that received an interaction can answer it; another process that reads the
//! answer skips it ([`PrepareError::NotMine`]).
//!
//! Each interaction gets a watcher task that keeps Discord's rules for the subscribers:
//! no answer within `defer_after` (2.5 s by default; Discord drops an interaction not
//! acknowledged within 3 s) -> the gateway defers it (type 5 for commands and modal
//! submits, 6 for components), and a later answer edits the placeholder; still no answer
//! at `notice_after` -> the placeholder becomes the notice. Every answer takes the
//! interaction's lock, so the watcher and the answers never cross, and the first answer
//! wins: a later one gets a failed receipt ("already answered") without any request.

pub(crate) mod convert;
mod http;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytebot_core::envelope::{InteractionType, OutboundAction};
use bytebot_core::receipt::DeliveryError;
use bytebot_gateway::{
    GatewayCounters, Inbound, InteractionOutcome, InteractionReply, PrepareError, Published,
    local_error,
};
use secrecy::SecretString;
use serde_json::json;
use serenity::all::Interaction as DiscordInteraction;
use tokio::time::Instant;
use uuid::Uuid;

/// How long Discord accepts answers to an interaction (its token's lifetime).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long an interaction's id is remembered after its token is forgotten, so a late
/// answer gets a failed receipt ("expired") rather than silence.
const REMEMBERED_FOR: Duration = Duration::from_secs(60 * 60);

/// The most interactions remembered at once; the oldest go first. Beyond that many
/// within an hour, a late answer to an old one is skipped as another process'.
const MAX_REMEMBERED: usize = 20_000;

/// Discord's limit on autocomplete choices and on modal inputs.
const MAX_CHOICES: usize = 25;
const MAX_MODAL_FIELDS: usize = 5;

/// What the gateway does for interactions nobody answers in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionSettings {
    /// Defer an interaction that has no answer this long after it arrived
    /// (`--interaction-defer-after`, default 2.5 s; Discord's limit is 3 s).
    pub defer_after: Duration,
    /// Replace the placeholder of an interaction nobody answered with `notice` this long
    /// after it arrived (`--interaction-notice-after`, default 60 s).
    pub notice_after: Duration,
    /// What the user sees then (`--interaction-notice`).
    pub notice: String,
}

impl Default for InteractionSettings {
    fn default() -> InteractionSettings {
        InteractionSettings {
            defer_after: Duration::from_millis(2500),
            notice_after: Duration::from_secs(60),
            notice: DEFAULT_NOTICE.to_owned(),
        }
    }
}

/// The default notice for an interaction nobody answered.
pub const DEFAULT_NOTICE: &str = "Sorry, nobody answered this in time. Please try again later.";

/// Every interaction this process received and still remembers.
pub(crate) struct Interactions {
    settings: InteractionSettings,
    inbound: Inbound,
    counters: GatewayCounters,
    client: http::Client,
    allow_mass_mentions: bool,
    /// By envelope id: UUIDv7s sort by creation, so the first entry is the oldest.
    remembered: Mutex<BTreeMap<Uuid, Arc<Entry>>>,
}

/// One interaction.
struct Entry {
    kind: InteractionType,
    interaction_id: u64,
    application_id: u64,
    received_at: Instant,
    state: tokio::sync::Mutex<State>,
    /// The watcher task, stopped when the entry is forgotten early.
    watcher: Mutex<Option<tokio::task::AbortHandle>>,
}

struct State {
    /// `None` once expired.
    token: Option<SecretString>,
    stage: Stage,
}

/// Where the interaction's answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing sent to Discord yet.
    Open,
    /// Acknowledged with a defer, no answer yet: `update` says whether it was type 6
    /// (a component's: the original is the component's message), `ephemeral` whether
    /// the placeholder is.
    Deferred { update: bool, ephemeral: bool },
    /// Answered (directly, after a defer, or with the notice).
    Answered,
}

/// An answer ready to perform: the interaction and what to do.
pub(crate) struct Prepared {
    entry: Arc<Entry>,
    reply: InteractionReply,
}

impl Interactions {
    pub(crate) fn new(
        settings: InteractionSettings,
        inbound: Inbound,
        counters: GatewayCounters,
        api_url: Option<&str>,
        allow_mass_mentions: bool,
    ) -> Interactions {
        Interactions {
            settings,
            inbound,
            counters,
            client: http::Client::new(api_url),
            allow_mass_mentions,
            remembered: Mutex::default(),
        }
    }

    /// Publishes an `INTERACTION_CREATE` and starts its watcher.
    pub(crate) fn received(self: &Arc<Self>, interaction: &DiscordInteraction) {
        let incoming = match convert::incoming(interaction) {
            Some(Ok(incoming)) => incoming,
            Some(Err(err)) => {
                tracing::warn!(error = %err, "skipping an interaction with no valid topic");
                self.inbound.ignore();
                return;
            }
            None => {
                tracing::debug!("ignoring an interaction of a type the gateway does not publish");
                self.inbound.ignore();
                return;
            }
        };
        let id = incoming.envelope.id;
        let entry = Arc::new(Entry {
            kind: incoming.kind,
            interaction_id: incoming.interaction_id,
            application_id: incoming.application_id,
            received_at: Instant::now(),
            state: tokio::sync::Mutex::new(State {
                token: Some(incoming.token),
                stage: Stage::Open,
            }),
            watcher: Mutex::default(),
        });
        // Remembered before it is published, so that even the fastest answer finds it.
        self.remember(id, Arc::clone(&entry));
        tracing::debug!(envelope_id = %id, interaction_id = entry.interaction_id, kind = %entry.kind, "received an interaction");
        if self.inbound.publish(incoming.envelope) != Published::Published {
            self.forget(id);
            return;
        }
        let watcher = tokio::spawn(Arc::clone(self).watch(id, Arc::clone(&entry)));
        *entry.watcher.lock().expect("watcher lock") = Some(watcher.abort_handle());
    }

    fn remember(&self, id: Uuid, entry: Arc<Entry>) {
        let mut remembered = self.remembered.lock().expect("interactions lock");
        while let Some(oldest) = remembered.first_entry() {
            let old = oldest.get().received_at.elapsed() >= REMEMBERED_FOR;
            if !old && remembered.len() < MAX_REMEMBERED {
                break;
            }
            let (_, evicted) = remembered.pop_first().expect("an oldest entry");
            if !old {
                tracing::warn!(
                    interaction_id = evicted.interaction_id,
                    "forgetting an interaction early: more than {MAX_REMEMBERED} in memory"
                );
            }
            evicted.stop_watching();
        }
        remembered.insert(id, entry);
    }

    fn forget(&self, id: Uuid) {
        let removed = self
            .remembered
            .lock()
            .expect("interactions lock")
            .remove(&id);
        if let Some(entry) = removed {
            entry.stop_watching();
        }
    }

    /// Defers the interaction when nobody answered in time, shows the notice when
    /// nobody answers at all, and forgets the token at expiry.
    async fn watch(self: Arc<Self>, id: Uuid, entry: Arc<Entry>) {
        let settings = &self.settings;
        if entry.kind != InteractionType::Autocomplete {
            tokio::time::sleep_until(entry.received_at + settings.defer_after).await;
            self.defer_if_open(&entry).await;
            tokio::time::sleep_until(entry.received_at + settings.notice_after).await;
            self.notice_if_unanswered(&entry).await;
        }
        tokio::time::sleep_until(entry.received_at + TOKEN_LIFETIME).await;
        entry.state.lock().await.token = None;
        tracing::debug!(envelope_id = %id, interaction_id = entry.interaction_id, "the interaction expired; its token is forgotten");
    }

    async fn defer_if_open(&self, entry: &Entry) {
        let mut state = entry.state.lock().await;
        let Some(token) = state.token.clone() else {
            return;
        };
        if state.stage != Stage::Open {
            return;
        }
        let update = entry.kind == InteractionType::Component;
        let body = if update {
            json!({"type": 6})
        } else {
            json!({"type": 5, "data": convert::defer_data(false)})
        };
        match self
            .client
            .callback(entry.interaction_id, &token, &body)
            .await
        {
            Ok(()) => {
                tracing::debug!(
                    interaction_id = entry.interaction_id,
                    "no answer in time: deferred the interaction"
                );
                self.counters.interaction(InteractionOutcome::Deferred);
                state.stage = Stage::Deferred {
                    update,
                    ephemeral: false,
                };
            }
            Err(error) => {
                tracing::warn!(interaction_id = entry.interaction_id, code = error.code, status = error.status, error = %error.message, "could not defer an interaction");
            }
        }
    }

    async fn notice_if_unanswered(&self, entry: &Entry) {
        let mut state = entry.state.lock().await;
        let Some(token) = state.token.clone() else {
            return;
        };
        let Stage::Deferred { update, .. } = state.stage else {
            return;
        };
        let notice = json!({"content": self.settings.notice, "allowed_mentions": {"parse": []}});
        // A component's original is the message the button is on: leave it, and tell
        // the user alone.
        let done = if update {
            let mut body = notice;
            body["flags"] = json!(64);
            self.client
                .followup(entry.application_id, &token, &body)
                .await
                .map(drop)
        } else {
            self.client
                .edit_original(entry.application_id, &token, &notice)
                .await
                .map(drop)
        };
        state.stage = Stage::Answered;
        self.counters.interaction(InteractionOutcome::Unanswered);
        match done {
            Ok(()) => tracing::info!(
                interaction_id = entry.interaction_id,
                "nobody answered the interaction: showed the notice"
            ),
            Err(error) => {
                tracing::warn!(interaction_id = entry.interaction_id, code = error.code, status = error.status, error = %error.message, "nobody answered the interaction, and the notice failed")
            }
        }
    }

    /// Checks an answer against its interaction (on the dispatcher, before anything is
    /// sent): [`PrepareError::NotMine`] when this process did not receive it.
    pub(crate) fn prepare(&self, reply: InteractionReply) -> Result<Prepared, PrepareError> {
        let entry = self
            .remembered
            .lock()
            .expect("interactions lock")
            .get(&reply.interaction)
            .cloned()
            .ok_or(PrepareError::NotMine)?;
        let invalid = |reason: &str| Err(PrepareError::Invalid(reason.to_owned()));
        let envelope = &reply.envelope;
        match (reply.action, entry.kind) {
            (OutboundAction::Autocomplete, InteractionType::Autocomplete) => {}
            (OutboundAction::Autocomplete, _) => {
                return invalid("`autocomplete` answers an autocomplete interaction only");
            }
            (_, InteractionType::Autocomplete) => {
                return invalid("an autocomplete interaction is answered with `autocomplete`");
            }
            (OutboundAction::Update, InteractionType::Command) => {
                return invalid(
                    "`update` answers a component interaction (a button or a menu); answer a command with `respond`",
                );
            }
            (OutboundAction::Modal, InteractionType::ModalSubmit) => {
                return invalid("a modal submission cannot be answered with another modal");
            }
            _ => {}
        }
        if envelope.choices.len() > MAX_CHOICES {
            return invalid("`autocomplete` takes at most 25 choices");
        }
        if envelope
            .modal
            .as_ref()
            .is_some_and(|modal| modal.fields.len() > MAX_MODAL_FIELDS)
        {
            return invalid("a modal has at most 5 fields");
        }
        if !envelope.files.is_empty() {
            return Err(PrepareError::Unsupported(
                "files are not supported in interaction answers yet: answer, then `send` the files"
                    .to_owned(),
            ));
        }
        Ok(Prepared { entry, reply })
    }

    /// Performs an answer, under the interaction's lock.
    pub(crate) async fn perform(&self, prepared: Prepared) -> Result<Vec<String>, DeliveryError> {
        let Prepared { entry, reply } = prepared;
        let mut state = entry.state.lock().await;
        let Some(token) = state.token.clone() else {
            self.counters.interaction(InteractionOutcome::Expired);
            return Err(local_error(
                "the interaction expired: Discord accepts answers for 15 minutes",
            ));
        };
        let client = &self.client;
        let (interaction_id, application_id) = (entry.interaction_id, entry.application_id);
        let message = |ephemeral: bool| {
            convert::message_data(
                reply.text.as_ref(),
                &reply.envelope,
                ephemeral,
                self.allow_mass_mentions,
            )
        };
        let ephemeral = reply.envelope.ephemeral;
        let result = match (reply.action, state.stage) {
            (_, Stage::Answered)
                if !matches!(
                    reply.action,
                    OutboundAction::Followup
                        | OutboundAction::EditResponse
                        | OutboundAction::DeleteResponse
                ) =>
            {
                return Err(self.already_answered());
            }
            (OutboundAction::Respond, Stage::Open) => client
                .callback(
                    interaction_id,
                    &token,
                    &json!({"type": 4, "data": message(ephemeral)}),
                )
                .await
                .map(|()| Vec::new()),
            (OutboundAction::Respond, Stage::Deferred { update: true, .. }) => {
                client
                    .followup(application_id, &token, &message(ephemeral))
                    .await
            }
            (
                OutboundAction::Respond,
                Stage::Deferred {
                    update: false,
                    ephemeral: deferred_ephemeral,
                },
            ) if ephemeral && !deferred_ephemeral => {
                // A visible placeholder cannot become ephemeral: remove it, and answer
                // with an ephemeral follow-up.
                client.delete_original(application_id, &token).await?;
                client
                    .followup(application_id, &token, &message(true))
                    .await
            }
            (OutboundAction::Respond | OutboundAction::Update, Stage::Deferred { .. }) => {
                client
                    .edit_original(application_id, &token, &message(false))
                    .await
            }
            (OutboundAction::Update, Stage::Open) => client
                .callback(
                    interaction_id,
                    &token,
                    &json!({"type": 7, "data": message(false)}),
                )
                .await
                .map(|()| Vec::new()),
            (OutboundAction::Modal, Stage::Open) => client
                .callback(
                    interaction_id,
                    &token,
                    &json!({"type": 9, "data": convert::modal_data(&reply.envelope)}),
                )
                .await
                .map(|()| Vec::new()),
            (OutboundAction::Modal, Stage::Deferred { .. }) => {
                return Err(local_error(format!(
                    "a modal can only be the first answer to an interaction, and this one was already deferred (by a `defer`, or by the gateway when no answer came within {:?}): open modals from a handler that answers at once",
                    self.settings.defer_after
                )));
            }
            (OutboundAction::Autocomplete, Stage::Open) => client
                .callback(
                    interaction_id,
                    &token,
                    &json!({"type": 8, "data": convert::autocomplete_data(&reply.envelope)}),
                )
                .await
                .map(|()| Vec::new()),
            (OutboundAction::Defer, Stage::Open) => {
                let update = entry.kind == InteractionType::Component;
                let body = if update {
                    json!({"type": 6})
                } else {
                    json!({"type": 5, "data": convert::defer_data(ephemeral)})
                };
                client.callback(interaction_id, &token, &body).await?;
                state.stage = Stage::Deferred { update, ephemeral };
                return Ok(Vec::new());
            }
            // Deferred already (by the gateway, or twice): nothing more to do.
            (OutboundAction::Defer, Stage::Deferred { .. }) => return Ok(Vec::new()),
            (
                OutboundAction::Followup
                | OutboundAction::EditResponse
                | OutboundAction::DeleteResponse,
                Stage::Open,
            ) => {
                return Err(local_error(format!(
                    "`{}` needs an answer first: `respond`, `update` or `defer` the interaction",
                    reply.action
                )));
            }
            (OutboundAction::Followup, _) => {
                return client
                    .followup(application_id, &token, &message(ephemeral))
                    .await;
            }
            (OutboundAction::EditResponse, _) => {
                return client
                    .edit_original(application_id, &token, &message(false))
                    .await;
            }
            (OutboundAction::DeleteResponse, _) => {
                return client
                    .delete_original(application_id, &token)
                    .await
                    .map(|()| Vec::new());
            }
            (other, _) => {
                return Err(local_error(format!(
                    "gateway-discord cannot answer an interaction with `{other}`"
                )));
            }
        };
        match result {
            Ok(ids) => {
                state.stage = Stage::Answered;
                Ok(ids)
            }
            // Another process answered it (a rolling deploy): the same as here.
            Err(error) if error.code == Some(40060) => {
                state.stage = Stage::Answered;
                Err(self.already_answered())
            }
            Err(error) => Err(error),
        }
    }

    fn already_answered(&self) -> DeliveryError {
        self.counters
            .interaction(InteractionOutcome::AlreadyAnswered);
        local_error("already answered: another answer to this interaction came first")
    }
}

impl Entry {
    fn stop_watching(&self) {
        if let Some(watcher) = self.watcher.lock().expect("watcher lock").take() {
            watcher.abort();
        }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("interaction_id", &self.entry.interaction_id)
            .field("action", &self.reply.action)
            .finish_non_exhaustive()
    }
}
