//! Interactions (Discord's slash commands, buttons and select menus, modals,
//! autocomplete): what an inbound envelope of kind `interaction` carries, and what the
//! outbound interaction actions (`respond`, `modal`, `autocomplete`...) need.
//!
//! An interaction is answered by the inbound envelope's `id` (`in_reply_to`), never by
//! a platform token: the token that lets a bot answer stays in the gateway that
//! received the interaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Attachment, Author, schema};

/// Which kind of interaction an inbound `interaction` envelope reports.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InteractionType {
    /// An application command: a slash command (`/roll dice:2d6`) or a context-menu
    /// command on a user or a message. `name` and `options` say which.
    #[default]
    Command,
    /// A click on a button or a choice in a select menu of a message: `custom_id` and
    /// `values`. The envelope's `message_id` is the message the component is on.
    Component,
    /// A submitted modal (a form the bot opened with the `modal` action): `custom_id`
    /// and `fields`.
    ModalSubmit,
    /// The user is typing an option of a command that offers suggestions: `name`,
    /// `options` and `focused`. Answer with the `autocomplete` action.
    Autocomplete,
    /// A type this build does not know (added by a newer gateway); skip it.
    #[serde(other)]
    Unknown,
}

impl InteractionType {
    /// The wire name (`command`, `component`...).
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionType::Command => "command",
            InteractionType::Component => "component",
            InteractionType::ModalSubmit => "modal_submit",
            InteractionType::Autocomplete => "autocomplete",
            InteractionType::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for InteractionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a command option, as the platform declares it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OptionType {
    /// A sub-command: its own `options` hold the arguments, `value` is absent.
    SubCommand,
    /// A group of sub-commands: `options` holds the one sub-command used.
    SubCommandGroup,
    /// Text: `value` is a string.
    #[default]
    String,
    /// `value` is an integer.
    Integer,
    /// `value` is `true` or `false`.
    Boolean,
    /// `value` is a user id; the user is in `resolved.users`.
    User,
    /// `value` is a channel id; the channel is in `resolved.channels`.
    Channel,
    /// `value` is a role id; the role is in `resolved.roles`.
    Role,
    /// `value` is a user or role id (see `resolved`).
    Mentionable,
    /// `value` is a number (may have a fraction).
    Number,
    /// `value` is an attachment id; the file is in `resolved.attachments`.
    Attachment,
    /// A type this build does not know.
    #[serde(other)]
    Unknown,
}

/// One option of a command, as the user filled it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandOption {
    /// The option's name, as declared with the command (`dice`).
    pub name: String,
    /// Its declared type; says how to read `value`.
    #[serde(rename = "type")]
    pub kind: OptionType,
    /// The value: a string, an integer, a number or a boolean; ids (user, channel,
    /// role, mentionable, attachment) are strings, resolved in the interaction's
    /// `resolved`. Absent for sub-commands and groups. On an `autocomplete`
    /// interaction, the focused option's value is the partial text typed so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::option_value_schema")]
    pub value: Option<Value>,
    /// A sub-command's or group's own options. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    /// On an `autocomplete` interaction: the option the user is typing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub focused: bool,
}

/// The option the user is typing, on an `autocomplete` interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FocusedOption {
    /// The option's name.
    pub name: String,
    /// Its declared type.
    #[serde(rename = "type")]
    pub kind: OptionType,
    /// What the user has typed so far (always text, whatever the type).
    pub value: String,
}

/// One input of a submitted modal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModalField {
    /// The input's `custom_id`, as the bot set it when it opened the modal.
    pub custom_id: String,
    /// What the user entered (empty when an optional input was left blank).
    pub value: String,
}

/// A role mentioned in options or selected in a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvedRole {
    /// The role id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A channel mentioned in options or selected in a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResolvedChannel {
    /// The channel id.
    pub id: String,
    /// Its name, when the platform sends one (not for DMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The users, roles, channels and attachments that options or selected values refer
/// to by id, each map keyed by that id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resolved {
    /// Users by id (`display_name`: their nickname in the guild, when set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, Author>,
    /// Roles by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, ResolvedRole>,
    /// Channels by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, ResolvedChannel>,
    /// Uploaded files by attachment id (fetch the bytes from `url`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attachments: BTreeMap<String, Attachment>,
}

impl Resolved {
    /// Whether nothing is resolved (then the envelope leaves `resolved` out).
    pub fn is_empty(&self) -> bool {
        *self == Resolved::default()
    }
}

/// What an inbound envelope of kind `interaction` carries besides the neutral fields
/// (`author` is the user who interacted, `room` where; `message_id` is the message a
/// component is on, and the interaction's own id otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Interaction {
    /// The platform's id of the interaction (for logs: it cannot be used to answer).
    pub id: String,
    /// `command`, `component`, `modal_submit` or `autocomplete`; skip a type you do not
    /// know.
    #[serde(rename = "type")]
    pub kind: InteractionType,
    /// `command` and `autocomplete`: the command's name (`roll`), without the slash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `command` and `autocomplete`: the options the user filled in, sub-commands
    /// nested. Empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CommandOption>,
    /// A context-menu command: the user or message it was used on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// `component` and `modal_submit`: the `custom_id` the bot gave the button, menu or
    /// modal. Namespace yours (`roll:again:2d6`): every bot on the platform sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
    /// `component`: `button`, `string_select`, `user_select`, `role_select`,
    /// `mentionable_select` or `channel_select`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_type: Option<String>,
    /// `component`: the values chosen in a select menu (ids for the user, role,
    /// mentionable and channel menus). Empty for a button.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// `modal_submit`: every input of the modal, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ModalField>,
    /// `autocomplete`: the option being typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focused: Option<FocusedOption>,
    /// The users, roles, channels and attachments the options or values refer to.
    #[serde(default, skip_serializing_if = "Resolved::is_empty")]
    pub resolved: Resolved,
    /// The user's language (`en-US`, `fr`...), to answer in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The guild's preferred language; absent in a direct message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_locale: Option<String>,
    /// The user's permissions in the channel, as the platform's bit set in decimal
    /// (Discord's `member.permissions`: `8` is Administrator). Absent in a direct
    /// message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
}

/// How a modal input looks.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InputStyle {
    /// One line.
    #[default]
    Short,
    /// Several lines.
    Paragraph,
}

/// One text input of a modal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModalInput {
    /// Comes back as the `custom_id` of the submitted field.
    pub custom_id: String,
    /// The label above the input.
    pub label: String,
    /// `short` (the default) or `paragraph`.
    #[serde(default)]
    pub style: InputStyle,
    /// Whether the user must fill it in (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// Grey text shown while it is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Text it starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The fewest characters accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u16>,
    /// The most characters accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u16>,
}

fn yes() -> bool {
    true
}

impl ModalInput {
    /// A required one-line input.
    pub fn short(custom_id: impl Into<String>, label: impl Into<String>) -> ModalInput {
        ModalInput {
            custom_id: custom_id.into(),
            label: label.into(),
            style: InputStyle::Short,
            required: true,
            placeholder: None,
            value: None,
            min_length: None,
            max_length: None,
        }
    }
}

/// The form the `modal` action opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Modal {
    /// Comes back as the `custom_id` of the `modal_submit` interaction. Namespace it.
    pub custom_id: String,
    /// The modal's title.
    pub title: String,
    /// Its inputs, 1 to 5 on Discord.
    pub fields: Vec<ModalInput>,
}

/// One suggestion of the `autocomplete` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Choice {
    /// What the user sees.
    pub name: String,
    /// What the option is set to when chosen: a string, an integer or a number, as the
    /// option's type says.
    #[schemars(schema_with = "schema::choice_value_schema")]
    pub value: Value,
}

impl Choice {
    /// A choice whose value is its name.
    pub fn text(name: impl Into<String>) -> Choice {
        let name = name.into();
        Choice {
            value: Value::String(name.clone()),
            name,
        }
    }
}
