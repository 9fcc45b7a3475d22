//! Rich message parts, envelope -> serenity: embeds, component rows and files.
//!
//! The envelope carries embeds and components in Discord's own JSON. They are read
//! here through serenity's models (so a shape serenity cannot read is refused with a
//! failed receipt that names the field, before anything is sent) and turned into its
//! request builders. Interaction responses take the same builders, so they reuse these
//! functions.

use bytebot_core::envelope::{ComponentRow, Embed, OutboundFile};
use serde_json::Value;
use serenity::all::{
    ActionRow, ActionRowComponent, ChannelId, ComponentType, CreateActionRow, CreateAttachment,
    CreateButton, CreateEmbed, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption,
    Embed as DiscordEmbed, RoleId, SelectMenu, UserId,
};

use super::{ConvertError, shorten};

/// Discord embeds from the envelope's `embeds`.
pub fn embeds(embeds: &[Embed]) -> Result<Vec<CreateEmbed>, ConvertError> {
    embeds
        .iter()
        .enumerate()
        .map(|(index, embed)| {
            serde_json::from_value::<DiscordEmbed>(Value::Object(embed.clone()))
                .map(CreateEmbed::from)
                .map_err(|err| ConvertError::InvalidRich {
                    field: "embeds",
                    index,
                    reason: shorten(&err.to_string()),
                })
        })
        .collect()
}

/// Discord action rows from the envelope's `components`: each row holds buttons or one
/// select menu (text inputs belong in modals, not messages).
pub fn components(rows: &[ComponentRow]) -> Result<Vec<CreateActionRow>, ConvertError> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            action_row(row).map_err(|reason| ConvertError::InvalidRich {
                field: "components",
                index,
                reason,
            })
        })
        .collect()
}

fn action_row(row: &ComponentRow) -> Result<CreateActionRow, String> {
    let parsed: ActionRow = serde_json::from_value(Value::Object(row.clone()))
        .map_err(|err| shorten(&err.to_string()))?;
    if parsed.kind != ComponentType::ActionRow {
        return Err("a top-level component must be an action row (`\"type\": 1`)".to_owned());
    }
    let raw_components = row.get("components").and_then(Value::as_array);
    let mut buttons = Vec::new();
    let mut menus = Vec::new();
    for (position, component) in parsed.components.into_iter().enumerate() {
        match component {
            ActionRowComponent::Button(button) => buttons.push(CreateButton::from(button)),
            ActionRowComponent::SelectMenu(menu) => {
                let raw = raw_components.and_then(|raw| raw.get(position));
                menus.push(select_menu(menu, raw)?);
            }
            ActionRowComponent::InputText(_) => {
                return Err("a text input goes only in a modal, not in a message".to_owned());
            }
            _ => return Err("a component type serenity cannot send".to_owned()),
        }
    }
    match (buttons.is_empty(), menus.len()) {
        (_, 0) => Ok(CreateActionRow::Buttons(buttons)),
        (true, 1) => Ok(CreateActionRow::SelectMenu(menus.remove(0))),
        _ => Err("an action row holds either buttons or one select menu".to_owned()),
    }
}

/// A select menu. serenity's model drops `default_values`, so they are read from the
/// raw JSON (`[{"id": "...", "type": "user" | "role" | "channel"}]`).
fn select_menu(menu: SelectMenu, raw: Option<&Value>) -> Result<CreateSelectMenu, String> {
    let defaults = |wanted: &str| -> Option<Vec<u64>> {
        let values = raw?.get("default_values")?.as_array()?;
        Some(
            values
                .iter()
                .filter(|value| value.get("type").and_then(Value::as_str) == Some(wanted))
                .filter_map(|value| value.get("id")?.as_str()?.parse().ok())
                .filter(|id| *id != 0)
                .collect(),
        )
    };
    let users = || defaults("user").map(|ids| ids.into_iter().map(UserId::new).collect());
    let roles = || defaults("role").map(|ids| ids.into_iter().map(RoleId::new).collect());
    let kind = match menu.kind {
        ComponentType::StringSelect => CreateSelectMenuKind::String {
            options: menu
                .options
                .into_iter()
                .map(|option| {
                    let mut created = CreateSelectMenuOption::new(option.label, option.value)
                        .default_selection(option.default);
                    if let Some(description) = option.description {
                        created = created.description(description);
                    }
                    if let Some(emoji) = option.emoji {
                        created = created.emoji(emoji);
                    }
                    created
                })
                .collect(),
        },
        ComponentType::UserSelect => CreateSelectMenuKind::User {
            default_users: users(),
        },
        ComponentType::RoleSelect => CreateSelectMenuKind::Role {
            default_roles: roles(),
        },
        ComponentType::MentionableSelect => CreateSelectMenuKind::Mentionable {
            default_users: users(),
            default_roles: roles(),
        },
        _ => CreateSelectMenuKind::Channel {
            channel_types: (!menu.channel_types.is_empty()).then_some(menu.channel_types),
            default_channels: defaults("channel")
                .map(|ids| ids.into_iter().map(ChannelId::new).collect()),
        },
    };
    let custom_id = menu
        .custom_id
        .ok_or_else(|| "a select menu needs a `custom_id`".to_owned())?;
    let mut created = CreateSelectMenu::new(custom_id, kind).disabled(menu.disabled);
    if let Some(placeholder) = menu.placeholder {
        created = created.placeholder(placeholder);
    }
    if let Some(min) = menu.min_values {
        created = created.min_values(min);
    }
    if let Some(max) = menu.max_values {
        created = created.max_values(max);
    }
    Ok(created)
}

/// The uploads of the envelope's `files` (already checked by the envelope decoder: named,
/// valid base64).
pub fn files(files: &[OutboundFile]) -> Result<Vec<CreateAttachment>, ConvertError> {
    files
        .iter()
        .map(|file| {
            let bytes = file
                .bytes()
                .map_err(|err| ConvertError::InvalidFile(err.to_string()))?;
            let attachment = CreateAttachment::bytes(bytes, file.filename.clone());
            Ok(match &file.description {
                Some(description) => attachment.description(description.clone()),
                None => attachment,
            })
        })
        .collect()
}
