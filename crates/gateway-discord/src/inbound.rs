//! Discord -> Redis: publishes each chat message, edit, deletion and reaction as an
//! inbound envelope, in the order Discord sent them, through the runtime's [`Inbound`]
//! handle (which applies the loop guard and never blocks: while Redis is down, messages
//! wait in a bounded outbox).
//!
//! Order: serenity runs every `EventHandler` call on a task of its own, and tokio's
//! scheduler runs the most recently spawned task first, so a burst of messages reaches
//! the handler shuffled (a test saw message 5 published before 0..4). Serenity's
//! collectors, however, are called synchronously by the shard runner, in gateway
//! order, before the handler tasks are spawned. So messages are published from a
//! collector registered on each new session (in `ready`); the handlers only publish the
//! few events that arrived between READY and that registration, recognised because the
//! collector has not seen them (it always runs before their handler). Each shard has
//! its own collector (a new session of one shard retires only that shard's previous
//! one), and every event is counted for its shard (`status.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytebot_core::TopicError;
use bytebot_core::envelope::{InboundKind, InboundMessage};
use bytebot_gateway::Inbound;
use serenity::all::{
    ChannelId, CollectorCallback, Context, Event, EventHandler, Guild, GuildChannel,
    GuildCreateEvent, GuildId, GuildMemberAddEvent, Interaction, Member, Message,
    MessageCreateEvent, MessageDeleteEvent, MessageId, MessageUpdateEvent, Reaction,
    ReactionAddEvent, ReactionRemoveEvent, Ready, ResumedEvent, ThreadCreateEvent,
    ThreadDeleteEvent, ThreadListSyncEvent, ThreadUpdateEvent,
};
use serenity::async_trait;

use crate::convert;
use crate::status::ShardStatus;

/// A Discord event the gateway publishes, as the collector and the handler both see it.
enum Seen<'a> {
    Created(&'a Message),
    Updated(&'a MessageUpdateEvent),
    Deleted {
        guild_id: Option<GuildId>,
        channel_id: ChannelId,
        message_id: MessageId,
    },
    Reaction(InboundKind, &'a Reaction),
    /// GUILD_MEMBER_ADD, only sent with the Server Members intent (`--member-events`).
    MemberJoined(&'a Member),
}

impl Seen<'_> {
    fn from_event(event: &Event) -> Option<Seen<'_>> {
        Some(match event {
            Event::MessageCreate(MessageCreateEvent { message, .. }) => Seen::Created(message),
            Event::MessageUpdate(update) => Seen::Updated(update),
            Event::MessageDelete(MessageDeleteEvent {
                guild_id,
                channel_id,
                message_id,
                ..
            }) => Seen::Deleted {
                guild_id: *guild_id,
                channel_id: *channel_id,
                message_id: *message_id,
            },
            Event::ReactionAdd(ReactionAddEvent { reaction, .. }) => {
                Seen::Reaction(InboundKind::ReactionAdded, reaction)
            }
            Event::ReactionRemove(ReactionRemoveEvent { reaction, .. }) => {
                Seen::Reaction(InboundKind::ReactionRemoved, reaction)
            }
            Event::GuildMemberAdd(GuildMemberAddEvent { member, .. }) => Seen::MemberJoined(member),
            _ => return None,
        })
    }

    /// The room (channel or thread) the event happened in; `None` for a member join,
    /// which happens in no channel.
    fn channel_id(&self) -> Option<ChannelId> {
        match self {
            Seen::Created(message) => Some(message.channel_id),
            Seen::Updated(update) => Some(update.channel_id),
            Seen::Deleted { channel_id, .. } => Some(*channel_id),
            Seen::Reaction(_, reaction) => Some(reaction.channel_id),
            Seen::MemberJoined(_) => None,
        }
    }

    /// What identifies the event between the collector and its handler call.
    fn key(&self) -> String {
        match self {
            Seen::Created(message) => format!("created {}", message.id),
            Seen::Updated(update) => format!("updated {} {:?}", update.id, update.edited_timestamp),
            Seen::Deleted { message_id, .. } => format!("deleted {message_id}"),
            Seen::Reaction(kind, reaction) => format!(
                "{kind} {} {:?} {}",
                reaction.message_id, reaction.user_id, reaction.emoji
            ),
            Seen::MemberJoined(member) => format!("joined {} {}", member.guild_id, member.user.id),
        }
    }

    /// The envelope, `Ok(None)` for what is never published (system messages, updates
    /// that are not edits).
    fn envelope(&self) -> Result<Option<InboundMessage>, TopicError> {
        match self {
            Seen::Created(message) if !convert::is_chat_message(message) => {
                tracing::debug!(message_id = %message.id, kind = ?message.kind, "ignoring a system message");
                Ok(None)
            }
            Seen::Created(message) => convert::inbound_envelope(message).map(Some),
            Seen::Updated(update) => convert::edited_envelope(update).transpose(),
            Seen::Deleted {
                guild_id,
                channel_id,
                message_id,
            } => convert::deleted_envelope(*guild_id, *channel_id, *message_id).map(Some),
            Seen::Reaction(kind, reaction) => convert::reaction_envelope(*kind, reaction).map(Some),
            Seen::MemberJoined(member) => convert::member_joined_envelope(member).map(Some),
        }
    }
}

/// Turns Discord events into inbound envelopes, in gateway order.
pub(crate) struct Events {
    inbound: Inbound,
    /// Events the collector handled whose handler call has not come yet (a count per
    /// key: the same reaction can come and go twice); each stays here only between the
    /// two, so the map stays tiny.
    collected: Mutex<HashMap<String, usize>>,
    /// Each shard's current collector: set to retire it when the shard's next session
    /// registers a new one.
    retire: Mutex<HashMap<u32, Arc<AtomicBool>>>,
    /// Per-shard readiness (a collector registered) and event counts.
    status: Arc<ShardStatus>,
    /// Which channel each known thread belongs to, from thread creations, updates and
    /// lists (Discord's messages do not say), for `discord.parent_channel_id`.
    threads: Threads,
}

/// Thread id -> parent channel id, bounded: past [`Threads::LIMIT`] threads, new ones
/// are not recorded (their messages go without a parent) until deletions make room.
#[derive(Default)]
pub(crate) struct Threads(Mutex<HashMap<ChannelId, ChannelId>>);

impl Threads {
    /// About 3 MB at most.
    const LIMIT: usize = 100_000;

    fn record(&self, thread: &GuildChannel) {
        let Some(parent) = thread.parent_id else {
            return;
        };
        if thread.thread_metadata.is_none() {
            return; // a channel, not a thread
        }
        let mut threads = self.0.lock().expect("threads lock");
        if threads.len() < Threads::LIMIT || threads.contains_key(&thread.id) {
            threads.insert(thread.id, parent);
        }
    }

    fn forget(&self, thread: ChannelId) {
        self.0.lock().expect("threads lock").remove(&thread);
    }

    fn parent(&self, channel: ChannelId) -> Option<ChannelId> {
        self.0.lock().expect("threads lock").get(&channel).copied()
    }

    /// Records what a thread event says (from the collector or a handler).
    fn track(&self, event: &Event) {
        match event {
            Event::ThreadCreate(ThreadCreateEvent { thread, .. })
            | Event::ThreadUpdate(ThreadUpdateEvent { thread, .. }) => self.record(thread),
            Event::ThreadListSync(ThreadListSyncEvent { threads, .. }) => {
                threads.iter().for_each(|thread| self.record(thread));
            }
            Event::GuildCreate(GuildCreateEvent { guild, .. }) => {
                guild.threads.iter().for_each(|thread| self.record(thread));
            }
            Event::ThreadDelete(ThreadDeleteEvent { thread, .. }) => self.forget(thread.id),
            _ => {}
        }
    }
}

impl Events {
    pub(crate) fn new(inbound: Inbound, status: Arc<ShardStatus>) -> Events {
        Events {
            inbound,
            collected: Mutex::default(),
            retire: Mutex::default(),
            status,
            threads: Threads::default(),
        }
    }

    /// Publishes what `seen` means for subscribers, if anything; the runtime's loop
    /// guard skips the bot's own events and other bots' (without `--include-bots`).
    /// Never blocks.
    fn publish(&self, seen: &Seen<'_>) {
        match seen.envelope() {
            Ok(Some(mut envelope)) => {
                if let Some(parent) = seen
                    .channel_id()
                    .and_then(|channel_id| self.threads.parent(channel_id))
                {
                    convert::set_thread_parent(&mut envelope, parent);
                }
                self.inbound.publish(envelope);
            }
            Ok(None) => self.inbound.ignore(),
            Err(err) => {
                // Unreachable with Discord's numeric ids; never worth a crash.
                tracing::warn!(event = %seen.key(), error = %err, "skipping an event with no valid topic");
                self.inbound.ignore();
            }
        }
    }

    /// Registers the in-order collector on a new session's shard.
    fn collect(self: &Arc<Self>, ctx: &Context) {
        let shard = ctx.shard_id.0;
        let retired = Arc::new(AtomicBool::new(false));
        if let Some(previous) = self
            .retire
            .lock()
            .expect("retire lock")
            .insert(shard, Arc::clone(&retired))
        {
            previous.store(true, Ordering::Release);
        }
        let events = Arc::clone(self);
        ctx.shard
            .add_collector(CollectorCallback(Box::new(move |event: &Event| {
                if retired.load(Ordering::Acquire) {
                    return false; // a newer session of this shard has its own collector
                }
                events.threads.track(event);
                if let Some(seen) = Seen::from_event(event) {
                    events.status.count_event(shard);
                    *events
                        .collected
                        .lock()
                        .expect("collected lock")
                        .entry(seen.key())
                        .or_default() += 1;
                    events.publish(&seen);
                }
                true
            })));
        self.status.collecting(shard);
    }

    /// The handler's side: publishes `seen` only if the collector did not (it was
    /// dispatched before this session's collector was registered), and counts it for
    /// `ctx`'s shard then.
    fn handle(&self, ctx: &Context, seen: &Seen<'_>) {
        let collected = {
            let mut collected = self.collected.lock().expect("collected lock");
            let key = seen.key();
            match collected.get_mut(&key) {
                Some(1) => collected.remove(&key).is_some(),
                Some(count) => {
                    *count -= 1;
                    true
                }
                None => false,
            }
        };
        if !collected {
            self.status.count_event(ctx.shard_id.0);
            self.publish(seen);
        }
    }
}

/// The serenity event handler: messages and their events (`Events`, in order), and
/// interactions (`Interactions`, whose order does not matter: each is answered alone).
pub(crate) struct Handler(
    pub(crate) Arc<Events>,
    pub(crate) Arc<crate::interactions::Interactions>,
);

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        self.0.collect(&ctx);
        tracing::info!(
            shard = ctx.shard_id.0,
            user = %ready.user.name,
            user_id = %ready.user.id,
            n_guilds = ready.guilds.len(),
            "connected to the discord gateway"
        );
    }

    async fn resume(&self, ctx: Context, _: ResumedEvent) {
        tracing::info!(
            shard = ctx.shard_id.0,
            "resumed the discord gateway session"
        );
    }

    async fn message(&self, ctx: Context, message: Message) {
        self.0.handle(&ctx, &Seen::Created(&message));
    }

    async fn message_update(
        &self,
        ctx: Context,
        _: Option<Message>,
        _: Option<Message>,
        update: MessageUpdateEvent,
    ) {
        self.0.handle(&ctx, &Seen::Updated(&update));
    }

    async fn message_delete(
        &self,
        ctx: Context,
        channel_id: ChannelId,
        message_id: MessageId,
        guild_id: Option<GuildId>,
    ) {
        self.0.handle(
            &ctx,
            &Seen::Deleted {
                guild_id,
                channel_id,
                message_id,
            },
        );
    }

    async fn reaction_add(&self, ctx: Context, reaction: Reaction) {
        self.0
            .handle(&ctx, &Seen::Reaction(InboundKind::ReactionAdded, &reaction));
    }

    async fn reaction_remove(&self, ctx: Context, reaction: Reaction) {
        self.0.handle(
            &ctx,
            &Seen::Reaction(InboundKind::ReactionRemoved, &reaction),
        );
    }

    async fn guild_member_addition(&self, ctx: Context, member: Member) {
        self.0.handle(&ctx, &Seen::MemberJoined(&member));
    }

    // Thread events that came before this session's collector (GUILD_CREATE follows
    // READY at once); recording one twice is harmless.
    async fn guild_create(&self, _: Context, guild: Guild, _: Option<bool>) {
        guild
            .threads
            .iter()
            .for_each(|thread| self.0.threads.record(thread));
    }

    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        self.0.threads.record(&thread);
    }

    async fn thread_list_sync(&self, _: Context, sync: ThreadListSyncEvent) {
        sync.threads
            .iter()
            .for_each(|thread| self.0.threads.record(thread));
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        self.1.received(&interaction);
    }
}
