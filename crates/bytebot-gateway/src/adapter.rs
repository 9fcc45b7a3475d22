//! The contract between the runtime and one chat platform: the [`Adapter`] trait and
//! the types it speaks ([`Route`], [`TextLimits`], [`Action`], [`PrepareError`]).
//!
//! The runtime hands an adapter only what it has already checked: a parsed topic of
//! its platform, and actions whose text is clean (controls stripped, not blank) and cut
//! to the platform's limits. The adapter answers three questions (which room, how long
//! may a message be, what request does this action become) and performs one request
//! at a time.

use std::fmt;
use std::future::Future;
use std::hash::Hash;

use bytebot_core::envelope::{
    ComponentRow, Embed, MentionPolicy, OutboundAction, OutboundFile, OutboundMessage,
};
use bytebot_core::receipt::DeliveryError;
use bytebot_core::{Platform, Topic};
use uuid::Uuid;

/// A chat platform as the gateway runtime sees it. Implement this, and the runtime does
/// the rest (see the crate docs for a complete in-memory example).
///
/// The runtime calls [`route`](Adapter::route) and [`prepare`](Adapter::prepare) on its
/// dispatcher task (keep them quick and free of I/O), and
/// [`perform`](Adapter::perform) on the room's worker: one call at a time per room, in
/// publish order, rooms concurrently.
pub trait Adapter: Send + Sync + 'static {
    /// Where an outbound message goes on this platform (a Discord channel id, an IRC
    /// channel name): one ordered worker exists per room.
    type Room: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static;
    /// One platform request, built by [`prepare`](Adapter::prepare) and consumed by
    /// [`perform`](Adapter::perform).
    type Prepared: Send + 'static;

    /// The platform segment of every topic this adapter reads or writes.
    fn platform(&self) -> &Platform;

    /// The room an outbound topic (`outbound.<platform>.<space>.<room>.<user>`)
    /// addresses. [`Route::Invalid`] is logged with the topic, counted as malformed and
    /// skipped.
    fn route(&self, topic: &Topic) -> Route<Self::Room>;

    /// How much text one platform message may hold; the runtime splits longer content.
    fn text_limits(&self) -> TextLimits;

    /// The request for one action in `room`. Called for every part of a message before
    /// the first is performed, so an invalid message is refused whole. An `Err` ends in
    /// a failed receipt that carries its reason, never in silence.
    fn prepare(&self, room: &Self::Room, action: Action) -> Result<Self::Prepared, PrepareError>;

    /// Sends one prepared request. `Ok` carries the platform message ids the request
    /// created or touched (they go into the receipt; empty when there are none);
    /// `Err` is the platform's refusal, passed to the receipt as it is. The runtime
    /// bounds each call with its send timeout.
    fn perform(
        &self,
        room: &Self::Room,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Vec<String>, DeliveryError>> + Send;

    /// Disconnects from the platform; called once on shutdown, after the outbound
    /// workers have drained and before the Redis outbox is flushed.
    fn close(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// What [`Adapter::route`] says about an outbound topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<R> {
    /// Send it to this room.
    Room(R),
    /// Not for this adapter (a room another gateway process owns, say a Discord guild
    /// on a shard of another process): skipped quietly, counted as `not_mine`, no
    /// receipt (the owner sends one).
    NotMine,
    /// The topic cannot address a room on this platform; the reason is logged.
    Invalid(String),
}

/// How much text one platform message may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextLimits {
    /// The most characters (Unicode code points) in one message.
    pub max_chars: usize,
    /// The most bytes of UTF-8 in one message, for platforms that count bytes (IRC);
    /// `None` when only characters count.
    pub max_bytes: Option<usize>,
    /// Whether the platform renders Markdown code blocks (` ``` ` fences, Discord): then
    /// a block cut by a split is closed at the end of one part and reopened, with the
    /// same language tag, at the start of the next, so every part renders as code.
    pub code_fences: bool,
}

impl TextLimits {
    /// At most `max_chars` characters per message, bytes not counted.
    pub fn chars(max_chars: usize) -> TextLimits {
        TextLimits {
            max_chars: max_chars.max(1),
            max_bytes: None,
            code_fences: false,
        }
    }

    /// The same limits, for a platform that renders ` ``` ` code blocks.
    pub fn with_code_fences(mut self) -> TextLimits {
        self.code_fences = true;
        self
    }

    /// The same limits, and also at most `max_bytes` bytes per message.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> TextLimits {
        // At least one character of any width must fit.
        self.max_bytes = Some(max_bytes.max(4));
        self
    }
}

/// Text to post: one part of an outbound message, already cleaned and within the
/// platform's [`TextLimits`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Text {
    /// The content of this part. Empty only when the envelope has something else to
    /// show (see [`OutboundMessage::has_rich_content`]): then a send posts only that,
    /// and an edit keeps the message's text.
    ///
    /// [`OutboundMessage::has_rich_content`]: bytebot_core::envelope::OutboundMessage::has_rich_content
    pub content: String,
    /// The platform message this part answers (only ever on the first part, so a long
    /// answer quotes its question once).
    pub reply_to: Option<String>,
    /// Which mentions may notify (the adapter also applies the operator's policy).
    pub mentions: MentionPolicy,
    /// The same for this part in every gateway process that receives the same delivery
    /// (24 hex digits of a SHA-1 of the topic, the payload and the part's index), and
    /// different for every other part: for platforms that drop duplicate sends by a
    /// client-chosen key (Discord's `nonce` with `enforce_nonce`), so that two processes
    /// that both think they own a room still post once. `None` from [`Text::new`].
    pub idempotency_key: Option<String>,
    /// The envelope's embeds, on the last part of a send only (`None` on the others).
    /// On an edit, `None` keeps the message's and `Some(vec![])` removes them. The
    /// envelope has checked that each is a JSON object and their count; their shape is
    /// Discord's. A platform without embeds refuses them in [`Adapter::prepare`].
    pub embeds: Option<Vec<Embed>>,
    /// The envelope's component rows (buttons, select menus), like `embeds`.
    pub components: Option<Vec<ComponentRow>>,
    /// The files to upload, on the last part of a send only; checked by the envelope
    /// (named, valid base64). On an edit they replace the message's files; empty keeps
    /// them.
    pub files: Vec<OutboundFile>,
}

impl Text {
    /// Plain text, no reply, default mentions, nothing but text.
    pub fn new(content: impl Into<String>) -> Text {
        Text {
            content: content.into(),
            reply_to: None,
            mentions: MentionPolicy::default(),
            idempotency_key: None,
            embeds: None,
            components: None,
            files: Vec::new(),
        }
    }

    /// The names of the envelope fields this part carries besides text (`embeds`,
    /// `components`, `files`), for a platform that cannot show them to name in its
    /// refusal. Empty for plain text.
    pub fn extras(&self) -> Vec<&'static str> {
        let mut extras = Vec::new();
        if self.embeds.is_some() {
            extras.push("embeds");
        }
        if self.components.is_some() {
            extras.push("components");
        }
        if !self.files.is_empty() {
            extras.push("files");
        }
        extras
    }
}

/// One thing to do on the platform, decoded from an outbound envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Post one part of a message.
    Send(Text),
    /// Replace the text of a message the bot sent.
    Edit {
        /// The platform message id.
        message_id: String,
        /// The new text (one part: an edit is never split).
        text: Text,
    },
    /// Delete a message.
    Delete {
        /// The platform message id.
        message_id: String,
    },
    /// Add the bot's reaction to a message.
    React {
        /// The platform message id.
        message_id: String,
        /// A Unicode emoji, or a platform-specific custom one (`name:id` on Discord).
        emoji: String,
    },
    /// Remove the bot's reaction from a message.
    Unreact {
        /// The platform message id.
        message_id: String,
        /// As for [`Action::React`].
        emoji: String,
    },
    /// Show that the bot is typing.
    Typing,
    /// Start a thread from a message; the thread's id is the performed request's id.
    StartThread {
        /// The platform message id to start it from.
        message_id: String,
        /// The thread's name (checked: 1 to 100 characters).
        name: String,
    },
    /// Answer an interaction (`respond`, `defer`, `update`, `modal`...): only the
    /// adapter that received the interaction knows how (Discord: its token), so it
    /// reads what it needs from the envelope.
    Interaction(InteractionReply),
}

/// An interaction action, as the runtime hands it to the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InteractionReply {
    /// The `id` of the inbound envelope of the interaction (the envelope's
    /// `in_reply_to`).
    pub interaction: Uuid,
    /// Which interaction action.
    pub action: OutboundAction,
    /// The cleaned text, within the platform's limit, for the actions with text (empty
    /// next to embeds or components that need none); `None` for the others.
    pub text: Option<Text>,
    /// The whole envelope, for what else the action needs (`ephemeral`, `modal`,
    /// `choices`, embeds, components).
    pub envelope: Box<OutboundMessage>,
}

impl Action {
    /// The envelope's name for this action (`send`, `edit`...), as receipts carry it.
    pub fn kind(&self) -> OutboundAction {
        match self {
            Action::Send(_) => OutboundAction::Send,
            Action::Edit { .. } => OutboundAction::Edit,
            Action::Delete { .. } => OutboundAction::Delete,
            Action::React { .. } => OutboundAction::React,
            Action::Unreact { .. } => OutboundAction::Unreact,
            Action::Typing => OutboundAction::Typing,
            Action::StartThread { .. } => OutboundAction::StartThread,
            Action::Interaction(reply) => reply.action,
        }
    }
}

/// Why [`Adapter::prepare`] refused an action; the text goes into the failed receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// The envelope is wrong for this platform (a `message_id` that is not one of its
    /// ids, say): counted as malformed.
    #[error("{0}")]
    Invalid(String),
    /// The platform cannot do this action at all: counted as `unsupported_action`.
    #[error("{0}")]
    Unsupported(String),
    /// Another gateway process is the one to do it (it received the interaction this
    /// answers): skipped quietly like [`Route::NotMine`], counted as `not_mine`, no
    /// receipt.
    #[error("another gateway process handles this")]
    NotMine,
}

/// A [`DeliveryError`] with only a message: for failures of the gateway itself
/// (timeouts, refusals) rather than the platform's.
pub fn local_error(message: impl Into<String>) -> DeliveryError {
    DeliveryError {
        code: None,
        message: message.into(),
        status: None,
    }
}
