//! Where serenity's interactions meet envelopes: an `INTERACTION_CREATE` becomes an
//! inbound envelope of kind `interaction` (and the token that answers it, which stays
//! here), and an interaction action becomes the JSON body of Discord's callback or
//! webhook request.
//!
//! Like `crate::convert` for messages, nothing else in the crate maps serenity's
//! interaction types; the bodies are written as Discord documents them
//! (<https://discord.com/developers/docs/interactions/receiving-and-responding>), since
//! they go out through our own client (`http.rs`) rather than serenity's.

use bytebot_core::TopicError;
use bytebot_core::envelope::{
    CommandOption, FocusedOption, InboundKind, InboundMessage, InputStyle, Interaction,
    InteractionType, ModalField, OptionType, OutboundMessage, Resolved, ResolvedChannel,
    ResolvedRole,
};
use bytebot_gateway::Text;
use secrecy::SecretString;
use serde_json::{Value, json};
use serenity::all::{
    ActionRowComponent, CommandDataOption, CommandDataOptionValue, CommandDataResolved,
    CommandInteraction, CommandOptionType, ComponentInteraction, ComponentInteractionDataKind,
    Interaction as DiscordInteraction, Member, ModalInteraction, User,
};

use crate::convert::{allowed_mentions, attachments as attachments_of, author, interaction_topic};

/// Discord's message flag for "only the user who interacted sees it".
const EPHEMERAL: u64 = 1 << 6;

/// An interaction as received: its envelope, and what only the gateway keeps.
pub(crate) struct Incoming {
    pub(crate) envelope: InboundMessage,
    pub(crate) kind: InteractionType,
    pub(crate) interaction_id: u64,
    pub(crate) application_id: u64,
    /// The bearer credential that answers the interaction for 15 minutes: never on
    /// Redis, in a log line or a receipt.
    pub(crate) token: SecretString,
}

/// The common fields of every kind of interaction, borrowed from serenity's.
struct Common<'a> {
    id: u64,
    application_id: u64,
    guild_id: Option<u64>,
    channel_id: u64,
    member: Option<&'a Member>,
    user: &'a User,
    token: &'a str,
    locale: &'a str,
    guild_locale: Option<&'a str>,
}

/// The envelope and token of an interaction; `None` for what is not published (PING,
/// which only HTTP-endpoint bots receive, and types serenity does not know).
pub(crate) fn incoming(interaction: &DiscordInteraction) -> Option<Result<Incoming, TopicError>> {
    let (common, kind, details, message_id) = match interaction {
        DiscordInteraction::Command(command) => (
            command_common(command),
            InteractionType::Command,
            command_details(command, false),
            None,
        ),
        DiscordInteraction::Autocomplete(command) => (
            command_common(command),
            InteractionType::Autocomplete,
            command_details(command, true),
            None,
        ),
        DiscordInteraction::Component(component) => (
            component_common(component),
            InteractionType::Component,
            component_details(component),
            Some(component.message.id.get()),
        ),
        DiscordInteraction::Modal(modal) => (
            modal_common(modal),
            InteractionType::ModalSubmit,
            modal_details(modal),
            modal.message.as_ref().map(|message| message.id.get()),
        ),
        _ => return None,
    };
    Some(envelope(common, kind, details, message_id))
}

fn envelope(
    common: Common<'_>,
    kind: InteractionType,
    mut details: Interaction,
    message_id: Option<u64>,
) -> Result<Incoming, TopicError> {
    let nick = common.member.and_then(|member| member.nick.as_deref());
    let author = author(common.user, nick);
    let topic = interaction_topic(common.guild_id, common.channel_id, &author.id)?;
    let mut envelope = InboundMessage::event(
        InboundKind::Interaction,
        topic,
        message_id.unwrap_or(common.id).to_string(),
        author,
    );
    // When Discord created it (a snowflake's top bits), not when it reached us.
    if let Some(created) = snowflake_time(common.id) {
        envelope.timestamp = created;
    }
    details.id = common.id.to_string();
    details.kind = kind;
    details.locale = Some(common.locale.to_owned()).filter(|locale| !locale.is_empty());
    details.guild_locale = common.guild_locale.map(str::to_owned);
    details.permissions = common
        .member
        .and_then(|member| member.permissions)
        .map(|permissions| permissions.bits().to_string());
    envelope.interaction = Some(details);
    Ok(Incoming {
        envelope,
        kind,
        interaction_id: common.id,
        application_id: common.application_id,
        token: SecretString::from(common.token.to_owned()),
    })
}

fn snowflake_time(id: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
    let millis = i64::try_from(id >> 22).ok()? + DISCORD_EPOCH_MS;
    chrono::DateTime::from_timestamp_millis(millis)
}

fn command_common(command: &CommandInteraction) -> Common<'_> {
    Common {
        id: command.id.get(),
        application_id: command.application_id.get(),
        guild_id: command.guild_id.map(|id| id.get()),
        channel_id: command.channel_id.get(),
        member: command.member.as_deref(),
        user: &command.user,
        token: &command.token,
        locale: &command.locale,
        guild_locale: command.guild_locale.as_deref(),
    }
}

fn component_common(component: &ComponentInteraction) -> Common<'_> {
    Common {
        id: component.id.get(),
        application_id: component.application_id.get(),
        guild_id: component.guild_id.map(|id| id.get()),
        channel_id: component.channel_id.get(),
        member: component.member.as_ref(),
        user: &component.user,
        token: &component.token,
        locale: &component.locale,
        guild_locale: component.guild_locale.as_deref(),
    }
}

fn modal_common(modal: &ModalInteraction) -> Common<'_> {
    Common {
        id: modal.id.get(),
        application_id: modal.application_id.get(),
        guild_id: modal.guild_id.map(|id| id.get()),
        channel_id: modal.channel_id.get(),
        member: modal.member.as_ref(),
        user: &modal.user,
        token: &modal.token,
        locale: &modal.locale,
        guild_locale: modal.guild_locale.as_deref(),
    }
}

fn command_details(command: &CommandInteraction, autocomplete: bool) -> Interaction {
    let data = &command.data;
    let options: Vec<CommandOption> = data.options.iter().map(option).collect();
    let focused = autocomplete.then(|| focused(&options)).flatten();
    let mut details = Interaction::default();
    details.name = Some(data.name.clone());
    details.options = options;
    details.target_id = data.target_id.map(|id| id.get().to_string());
    details.focused = focused;
    details.resolved = resolved(&data.resolved);
    details
}

/// The focused option, however deep in sub-commands.
fn focused(options: &[CommandOption]) -> Option<FocusedOption> {
    options.iter().find_map(|option| {
        if option.focused {
            Some(FocusedOption {
                name: option.name.clone(),
                kind: option.kind,
                value: option
                    .value
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        } else {
            focused(&option.options)
        }
    })
}

fn option(option: &CommandDataOption) -> CommandOption {
    let id = |id: u64| Some(Value::String(id.to_string()));
    let mut options = Vec::new();
    let mut focused = false;
    let value = match &option.value {
        CommandDataOptionValue::Autocomplete { value, .. } => {
            focused = true;
            Some(Value::String(value.clone()))
        }
        CommandDataOptionValue::Boolean(value) => Some(Value::Bool(*value)),
        CommandDataOptionValue::Integer(value) => Some(Value::from(*value)),
        CommandDataOptionValue::Number(value) => {
            serde_json::Number::from_f64(*value).map(Value::Number)
        }
        CommandDataOptionValue::String(value) => Some(Value::String(value.clone())),
        CommandDataOptionValue::SubCommand(nested)
        | CommandDataOptionValue::SubCommandGroup(nested) => {
            options = nested.iter().map(self::option).collect();
            None
        }
        CommandDataOptionValue::Attachment(attachment) => id(attachment.get()),
        CommandDataOptionValue::Channel(channel) => id(channel.get()),
        CommandDataOptionValue::Mentionable(generic) => id(generic.get()),
        CommandDataOptionValue::Role(role) => id(role.get()),
        CommandDataOptionValue::User(user) => id(user.get()),
        _ => None,
    };
    CommandOption {
        name: option.name.clone(),
        kind: option_type(option.kind()),
        value,
        options,
        focused,
    }
}

fn option_type(kind: CommandOptionType) -> OptionType {
    match kind {
        CommandOptionType::SubCommand => OptionType::SubCommand,
        CommandOptionType::SubCommandGroup => OptionType::SubCommandGroup,
        CommandOptionType::String => OptionType::String,
        CommandOptionType::Integer => OptionType::Integer,
        CommandOptionType::Boolean => OptionType::Boolean,
        CommandOptionType::User => OptionType::User,
        CommandOptionType::Channel => OptionType::Channel,
        CommandOptionType::Role => OptionType::Role,
        CommandOptionType::Mentionable => OptionType::Mentionable,
        CommandOptionType::Number => OptionType::Number,
        CommandOptionType::Attachment => OptionType::Attachment,
        _ => OptionType::Unknown,
    }
}

fn resolved(data: &CommandDataResolved) -> Resolved {
    let mut resolved = Resolved::default();
    for (id, user) in &data.users {
        let nick = data
            .members
            .get(id)
            .and_then(|member| member.nick.as_deref());
        resolved.users.insert(id.to_string(), author(user, nick));
    }
    for (id, role) in &data.roles {
        resolved.roles.insert(
            id.to_string(),
            ResolvedRole {
                id: id.to_string(),
                name: role.name.clone(),
            },
        );
    }
    for (id, channel) in &data.channels {
        resolved.channels.insert(
            id.to_string(),
            ResolvedChannel {
                id: id.to_string(),
                name: channel.name.clone(),
            },
        );
    }
    let files: Vec<_> = data.attachments.values().cloned().collect();
    for (attachment, converted) in files.iter().zip(attachments_of(&files)) {
        resolved
            .attachments
            .insert(attachment.id.to_string(), converted);
    }
    resolved
}

fn component_details(component: &ComponentInteraction) -> Interaction {
    let data = &component.data;
    let ids = |ids: &mut dyn Iterator<Item = u64>| ids.map(|id| id.to_string()).collect();
    let (component_type, values): (&str, Vec<String>) = match &data.kind {
        ComponentInteractionDataKind::Button => ("button", Vec::new()),
        ComponentInteractionDataKind::StringSelect { values } => ("string_select", values.clone()),
        ComponentInteractionDataKind::UserSelect { values } => {
            ("user_select", ids(&mut values.iter().map(|id| id.get())))
        }
        ComponentInteractionDataKind::RoleSelect { values } => {
            ("role_select", ids(&mut values.iter().map(|id| id.get())))
        }
        ComponentInteractionDataKind::MentionableSelect { values } => (
            "mentionable_select",
            ids(&mut values.iter().map(|id| id.get())),
        ),
        ComponentInteractionDataKind::ChannelSelect { values } => {
            ("channel_select", ids(&mut values.iter().map(|id| id.get())))
        }
        _ => ("unknown", Vec::new()),
    };
    let mut details = Interaction::default();
    details.custom_id = Some(data.custom_id.clone());
    details.component_type = Some(component_type.to_owned());
    details.values = values;
    details.resolved = resolved(&data.resolved);
    details
}

fn modal_details(modal: &ModalInteraction) -> Interaction {
    let fields = modal
        .data
        .components
        .iter()
        .flat_map(|row| &row.components)
        .filter_map(|component| match component {
            ActionRowComponent::InputText(input) => Some(ModalField {
                custom_id: input.custom_id.clone(),
                value: input.value.clone().unwrap_or_default(),
            }),
            _ => None,
        })
        .collect();
    let mut details = Interaction::default();
    details.custom_id = Some(modal.data.custom_id.clone());
    details.fields = fields;
    details
}

// ---- answers -------------------------------------------------------------------------

/// The `data` of a message answer (callback types 4 and 7, follow-ups, edits of the
/// original): content, embeds, components, mentions, and the ephemeral flag when asked.
pub(crate) fn message_data(
    text: Option<&Text>,
    envelope: &OutboundMessage,
    ephemeral: bool,
    allow_mass_mentions: bool,
) -> Value {
    let mut data = serde_json::Map::new();
    // Empty next to embeds or components: left out, so an edit keeps the text.
    if let Some(text) = text.filter(|text| !text.content.is_empty()) {
        data.insert("content".into(), Value::String(text.content.clone()));
    }
    if let Some(embeds) = &envelope.embeds {
        data.insert("embeds".into(), json!(embeds));
    }
    if let Some(components) = &envelope.components {
        data.insert("components".into(), json!(components));
    }
    let mentions = allowed_mentions(envelope.mentions, allow_mass_mentions);
    data.insert(
        "allowed_mentions".into(),
        serde_json::to_value(mentions).unwrap_or(Value::Null),
    );
    if ephemeral {
        data.insert("flags".into(), json!(EPHEMERAL));
    }
    Value::Object(data)
}

/// Callback type 9: the modal form, each input in its own action row.
pub(crate) fn modal_data(envelope: &OutboundMessage) -> Value {
    let Some(modal) = &envelope.modal else {
        return Value::Null; // `validate` refuses a `modal` action without one
    };
    let rows: Vec<Value> = modal
        .fields
        .iter()
        .map(|input| {
            let mut text_input = json!({
                "type": 4,
                "custom_id": input.custom_id,
                "label": input.label,
                "style": match input.style {
                    InputStyle::Paragraph => 2,
                    _ => 1,
                },
                "required": input.required,
            });
            for (key, value) in [
                ("placeholder", input.placeholder.clone().map(Value::String)),
                ("value", input.value.clone().map(Value::String)),
                ("min_length", input.min_length.map(Value::from)),
                ("max_length", input.max_length.map(Value::from)),
            ] {
                if let Some(value) = value {
                    text_input[key] = value;
                }
            }
            json!({"type": 1, "components": [text_input]})
        })
        .collect();
    json!({"custom_id": modal.custom_id, "title": modal.title, "components": rows})
}

/// Callback type 8: the suggestions.
pub(crate) fn autocomplete_data(envelope: &OutboundMessage) -> Value {
    json!({"choices": envelope.choices})
}

/// The `data` of a defer (type 5): only the ephemeral flag.
pub(crate) fn defer_data(ephemeral: bool) -> Value {
    if ephemeral {
        json!({"flags": EPHEMERAL})
    } else {
        json!({})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope's time is when Discord created the interaction.
    #[test]
    fn snowflakes_carry_their_time() {
        // Discord's documented example: 175928847299117063 is 2016-04-30 11:18:25.796 UTC.
        let time = snowflake_time(175_928_847_299_117_063).unwrap();
        assert_eq!(time.to_rfc3339(), "2016-04-30T11:18:25.796+00:00");
    }

    /// The focused option may sit inside a sub-command.
    #[test]
    fn the_focused_option_is_found_in_sub_commands() {
        let typed = CommandOption {
            name: "dice".into(),
            kind: OptionType::String,
            value: Some(json!("2d")),
            options: Vec::new(),
            focused: true,
        };
        let sub = CommandOption {
            name: "roll".into(),
            kind: OptionType::SubCommand,
            value: None,
            options: vec![typed],
            focused: false,
        };
        let found = focused(&[sub]).unwrap();
        assert_eq!((found.name.as_str(), found.value.as_str()), ("dice", "2d"));
    }

    /// A modal becomes one action row per input, styles as Discord numbers them.
    #[test]
    fn modals_become_rows_of_text_inputs() {
        let mut envelope = OutboundMessage::new("");
        envelope.modal = Some(bytebot_core::envelope::Modal {
            custom_id: "example:feedback".into(),
            title: "Feedback".into(),
            fields: vec![bytebot_core::envelope::ModalInput {
                style: InputStyle::Paragraph,
                max_length: Some(500),
                ..bytebot_core::envelope::ModalInput::short("text", "What do you think?")
            }],
        });
        let data = modal_data(&envelope);
        assert_eq!(data["custom_id"], "example:feedback");
        let input = &data["components"][0]["components"][0];
        assert_eq!(input["type"], 4);
        assert_eq!(input["style"], 2);
        assert_eq!(input["max_length"], 500);
        assert!(input.get("placeholder").is_none());
    }
}
