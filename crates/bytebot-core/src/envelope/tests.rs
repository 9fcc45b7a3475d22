//! Round trips, refusals and the JSON shape of every envelope type.

use super::*;
use crate::topic::Space;
use proptest::prelude::*;
use serde_json::json;

const TOPIC: &str = "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808";

fn topic() -> Topic {
    TOPIC.parse().unwrap()
}

fn author() -> Author {
    Author::new("179258058118135808", "ferris")
}

fn inbound() -> InboundMessage {
    InboundMessage::new(topic(), "1443167930991902725", author(), "!ping")
}

/// An inbound envelope with every optional field set, so a round trip covers them all.
fn full_inbound() -> InboundMessage {
    let mut message = inbound();
    message.author.display_name = Some("Ferris the Crab".into());
    message.author.bot = true;
    message.mentions = vec![Mention {
        id: "80351110224678912".into(),
        name: "nelly".into(),
    }];
    message.attachments = vec![Attachment {
        url: "https://cdn.discordapp.com/attachments/1/2/build.log".into(),
        filename: "build.log".into(),
        content_type: Some("text/plain; charset=utf-8".into()),
        size: Some(48_213),
    }];
    message.reply_to = Some("1443167000000000000".into());
    message.emote = true;
    message.raw = Some(json!({"id": "1443167930991902725", "flags": 0, "pinned": false}));
    message.reaction = Some(Reaction {
        emoji: "ferris".into(),
        emoji_id: Some("1100000000000000001".into()),
    });
    message.discord = Some(DiscordDetails {
        message_author_id: Some("80351110224678912".into()),
        burst: true,
        embeds: vec![
            json!({"title": "x", "type": "rich"})
                .as_object()
                .unwrap()
                .clone(),
        ],
        components: vec![
            json!({"type": 1, "components": []})
                .as_object()
                .unwrap()
                .clone(),
        ],
        stickers: vec![Sticker {
            id: "749054660769218631".into(),
            name: "Wave".into(),
            url: None,
        }],
        parent_channel_id: Some("1200058256127688735".into()),
    });
    message
}

fn to_value(payload: &[u8]) -> serde_json::Value {
    serde_json::from_slice(payload).unwrap()
}

/// Every field, the optional ones included, survives encode then decode unchanged.
#[test]
fn inbound_round_trips_with_every_field() {
    for message in [inbound(), full_inbound()] {
        assert_eq!(decode_inbound(&message.encode()).unwrap(), message);
    }
}

/// Every field and every mention policy survive encode then decode unchanged.
#[test]
fn outbound_round_trips_with_every_field() {
    let inbound = inbound();
    for mentions in [
        MentionPolicy::None,
        MentionPolicy::Users,
        MentionPolicy::All,
    ] {
        let mut message = OutboundMessage::reply_to(&inbound, "pong");
        message.mentions = mentions;
        assert_eq!(decode_outbound(&message.encode()).unwrap(), message);
    }
    let plain = OutboundMessage::new("hello");
    assert_eq!(decode_outbound(&plain.encode()).unwrap(), plain);
}

/// The nested types and enums are wire types too: each keeps its JSON form.
#[test]
fn nested_types_round_trip_through_json() {
    let message = full_inbound();
    let author: Author = serde_json::from_value(json!(message.author)).unwrap();
    assert_eq!(author, message.author);
    let mention: Mention = serde_json::from_value(json!(message.mentions[0])).unwrap();
    assert_eq!(mention, message.mentions[0]);
    let attachment: Attachment = serde_json::from_value(json!(message.attachments[0])).unwrap();
    assert_eq!(attachment, message.attachments[0]);
    assert_eq!(json!(InboundKind::Message), json!("message"));
    assert_eq!(
        json!([
            MentionPolicy::None,
            MentionPolicy::Users,
            MentionPolicy::All
        ]),
        json!(["none", "users", "all"])
    );
}

/// Newer writers of v1 add fields; older readers must keep working.
#[test]
fn unknown_fields_are_ignored() {
    let message = inbound();
    let mut value = to_value(&message.encode());
    value["future_field"] = json!({"nested": [1, 2, 3]});
    value["author"]["avatar"] = json!("https://cdn.example/a.png");
    assert_eq!(
        decode_inbound(value.to_string().as_bytes()).unwrap(),
        message
    );

    let outbound = br#"{"content":"pong","poll":{"question":"x"},"v":1}"#;
    assert_eq!(
        decode_outbound(outbound).unwrap(),
        OutboundMessage::new("pong")
    );
}

/// A v2 payload must say "unsupported version", even when its shape no longer parses
/// as v1, so operators see the real problem.
#[test]
fn newer_versions_are_rejected_as_unsupported() {
    let mut value = to_value(&inbound().encode());
    value["v"] = json!(2);
    let same_shape = value.to_string();
    value.as_object_mut().unwrap().remove("content");
    value["author"] = json!("renamed in v2");
    let other_shape = value.to_string();
    for payload in [same_shape, other_shape] {
        assert!(matches!(
            decode_inbound(payload.as_bytes()),
            Err(EnvelopeError::UnsupportedVersion { found: 2 })
        ));
    }
    for payload in [
        r#"{"v":2,"content":"pong"}"#,
        r#"{"v":2,"text":"pong"}"#,
        r#"{"v":9999999999,"content":"pong"}"#,
        r#"{"v":0,"content":"pong"}"#,
    ] {
        assert!(
            matches!(
                decode_outbound(payload.as_bytes()),
                Err(EnvelopeError::UnsupportedVersion { .. })
            ),
            "{payload}"
        );
    }
}

/// Outbound `v` is optional so that minimal subscribers can send `{"content":...}`.
#[test]
fn outbound_version_defaults_to_one() {
    let message = decode_outbound(br#"{"content":"pong"}"#).unwrap();
    assert_eq!(message.v, WIRE_VERSION);
    assert_eq!(message.mentions, MentionPolicy::Users);
}

/// The size limit must hold before parsing, or a huge payload costs every subscriber
/// the parse; an invalid payload proves no parsing happened.
#[test]
fn oversize_payloads_are_rejected_before_parsing() {
    let payload = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
    for result in [
        decode_inbound(&payload).map(drop),
        decode_outbound(&payload).map(drop),
    ] {
        assert!(matches!(
            result,
            Err(EnvelopeError::TooLarge { size, limit: MAX_PAYLOAD_BYTES })
                if size == MAX_PAYLOAD_BYTES + 1
        ));
    }
    let valid_but_large = OutboundMessage::new("a".repeat(MAX_PAYLOAD_BYTES)).encode();
    assert!(matches!(
        decode_outbound(&valid_but_large),
        Err(EnvelopeError::TooLarge { .. })
    ));
    let just_under = OutboundMessage::new("a".repeat(MAX_PAYLOAD_BYTES - 100)).encode();
    assert!(decode_outbound(&just_under).is_ok());
}

/// Subscribers written for the Go gateway publish a bare JSON string.
#[test]
fn bare_string_is_accepted_as_content() {
    for payload in [&b"\"pong\""[..], b"  \n\"pong\"", b"\"pong\"\n"] {
        assert_eq!(
            decode_outbound(payload).unwrap(),
            OutboundMessage::new("pong")
        );
    }
    assert_eq!(
        decode_outbound(br#""line\nbreak \u00e9""#).unwrap().content,
        "line\nbreak é"
    );
}

/// A gateway must never send an empty message, whatever form it came in.
#[test]
fn blank_content_is_rejected() {
    for payload in [
        r#"{"content":""}"#,
        r#"{"content":"  \n\t "}"#,
        r#"{"content":"\u3000"}"#,
        r#""""#,
        r#""   ""#,
        r#"" \r\n""#,
    ] {
        assert!(
            matches!(
                decode_outbound(payload.as_bytes()),
                Err(EnvelopeError::EmptyContent)
            ),
            "{payload}"
        );
    }
}

/// Broken input gets a typed error whose message carries the parser's explanation
/// (it is what a daemon logs when it skips the payload).
#[test]
fn invalid_json_and_missing_fields_say_what_is_wrong() {
    for payload in [
        &b"{"[..],
        b"",
        b"\"unterminated",
        br#"{"content":5}"#,
        br#"{"content":"x","mentions":"everyone"}"#,
    ] {
        let error = decode_outbound(payload).unwrap_err();
        assert!(matches!(error, EnvelopeError::Json(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.starts_with("invalid envelope JSON: "), "{message}");
        assert!(message.len() > "invalid envelope JSON: ".len(), "{message}");
    }
    let mut value = to_value(&inbound().encode());
    value.as_object_mut().unwrap().remove("content");
    let error = decode_inbound(value.to_string().as_bytes()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("missing field `content`"), "{message}");
}

/// Operators read these in logs: they must say what was wrong and by how much.
#[test]
fn error_messages_are_lowercase_and_specific() {
    let too_large = decode_outbound(&vec![b' '; MAX_PAYLOAD_BYTES + 1]).unwrap_err();
    assert_eq!(
        too_large.to_string(),
        "payload is 1048577 bytes, over the 1048576-byte limit"
    );
    let version = decode_outbound(br#"{"v":2,"content":"x"}"#).unwrap_err();
    assert_eq!(
        version.to_string(),
        "unsupported envelope version 2 (this program reads version 1)"
    );
    let empty = decode_outbound(br#""""#).unwrap_err();
    assert_eq!(empty.to_string(), "outbound message has empty content");
}

/// Optional fields are absent, not `null`, so the JSON stays small and a reader can
/// test for presence.
#[test]
fn none_fields_are_omitted_from_the_json() {
    let value = to_value(&inbound().encode());
    let object = value.as_object().unwrap();
    for absent in ["reply_to", "raw", "reaction", "discord"] {
        assert!(!object.contains_key(absent), "{absent} in {value}");
    }
    assert!(
        !value["author"]
            .as_object()
            .unwrap()
            .contains_key("display_name")
    );
    assert_eq!(value["mentions"], json!([]));
    assert_eq!(value["attachments"], json!([]));

    let mut message = full_inbound();
    message.attachments[0].content_type = None;
    message.attachments[0].size = None;
    let value = to_value(&message.encode());
    assert_eq!(
        value["attachments"][0],
        json!({"url": message.attachments[0].url, "filename": "build.log"})
    );

    let value = to_value(&OutboundMessage::new("pong").encode());
    assert_eq!(
        value,
        json!({"v": 1, "content": "pong", "mentions": "users"})
    );
}

/// The wire names are the contract: pin the full list of top-level fields.
#[test]
fn inbound_json_has_the_documented_fields() {
    let value = to_value(&full_inbound().encode());
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attachments",
            "author",
            "content",
            "direct",
            "discord",
            "emote",
            "id",
            "kind",
            "mentions",
            "message_id",
            "platform",
            "raw",
            "reaction",
            "reply_to",
            "reply_topic",
            "room",
            "space",
            "timestamp",
            "topic",
            "v",
        ]
    );
    assert_eq!(value["kind"], "message");
    assert_eq!(value["topic"], TOPIC);
    assert_eq!(
        value["reply_topic"],
        "outbound.discord.1190804811990446190.1200058256127688735.179258058118135808"
    );
}

/// Subscribers publish to `reply_topic` without computing it, so it must be right.
#[test]
fn constructor_derives_reply_topic_and_segments_from_the_topic() {
    let message = inbound();
    assert_eq!(message.reply_topic, message.topic.reply());
    assert_eq!(message.platform, "discord");
    assert_eq!(message.space, "1190804811990446190");
    assert_eq!(message.room, "1200058256127688735");
    assert_eq!(message.v, WIRE_VERSION);
    assert_eq!(message.kind, InboundKind::Message);
    assert!(!message.is_direct());
    message.validate().unwrap();
}

/// A DM has no guild: its space is `@me`, in the topic and in the `space` field.
#[test]
fn direct_messages_have_the_reserved_space() {
    let topic = Topic::builder(Direction::Inbound, "discord")
        .direct()
        .room("1200058256127688735")
        .user("179258058118135808")
        .build()
        .unwrap();
    let message = InboundMessage::new(topic, "1", author(), "hi");
    assert_eq!(message.space, "@me");
    assert!(message.is_direct());
    assert_eq!(message.topic.space(), &Space::Direct);
    assert_eq!(decode_inbound(&message.encode()).unwrap(), message);
}

/// An outbound topic passed by mistake must not yield an envelope decoders refuse.
#[test]
fn constructor_forces_an_inbound_topic() {
    let message = InboundMessage::new(topic().reply(), "1", author(), "hi");
    assert_eq!(message.topic, topic());
    assert_eq!(message.reply_topic, topic().reply());
}

/// Ids identify envelopes and order them; other languages compare them as strings.
#[test]
fn consecutive_ids_differ_and_sort_in_creation_order() {
    let first = inbound();
    let second = inbound();
    assert_ne!(first.id, second.id);
    assert!(first.id < second.id);
    assert!(first.id.to_string() < second.id.to_string());
    assert_eq!(first.id.get_version_num(), 7);
}

/// `reply_to` answers the platform message and correlates with the envelope.
#[test]
fn reply_to_answers_the_message_and_correlates_the_envelope() {
    let inbound = inbound();
    let reply = OutboundMessage::reply_to(&inbound, "pong");
    assert_eq!(reply.reply_to.as_deref(), Some("1443167930991902725"));
    assert_eq!(reply.in_reply_to, Some(inbound.id));
    assert_eq!(reply.content, "pong");
    assert_eq!(reply.mentions, MentionPolicy::Users);
}

/// Copies of the topic's segments must agree with it, and a reply topic that points
/// back at subscribers would loop.
#[test]
fn inconsistent_inbound_envelopes_are_rejected() {
    let mut wrong_space = inbound();
    wrong_space.space = "@me".into();
    assert!(matches!(
        decode_inbound(&wrong_space.encode()),
        Err(EnvelopeError::TopicMismatch { field: "space", .. })
    ));
    let mut wrong_room = inbound();
    wrong_room.room = "1".into();
    let error = decode_inbound(&wrong_room.encode()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`room` is \"1\" but the topic says \"1200058256127688735\""
    );
    let mut wrong_platform = inbound();
    wrong_platform.platform = "slack".into();
    assert!(matches!(
        decode_inbound(&wrong_platform.encode()),
        Err(EnvelopeError::TopicMismatch {
            field: "platform",
            ..
        })
    ));
    let mut looping = inbound();
    looping.reply_topic = looping.topic.clone();
    let error = decode_inbound(&looping.encode()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`reply_topic` has direction `inbound`, expected `outbound`"
    );
    let mut outbound_topic = inbound();
    outbound_topic.topic = outbound_topic.reply_topic.clone();
    assert!(matches!(
        decode_inbound(&outbound_topic.encode()),
        Err(EnvelopeError::WrongDirection { field: "topic", .. })
    ));
}

/// A gateway reads these: malformed input must be an error, never a panic.
#[test]
fn garbage_never_panics() {
    for payload in [
        &b"\xff\xfe"[..],
        b"null",
        b"1",
        b"\"\\ud800\"",
        b"{\"v\":-1}",
    ] {
        assert!(decode_outbound(payload).is_err());
        assert!(decode_inbound(payload).is_err());
    }
}

/// One event of each kind, as a gateway builds it.
fn events() -> Vec<InboundMessage> {
    let mut edited = InboundMessage::event(
        InboundKind::MessageEdited,
        topic(),
        "1443167930991902725",
        author(),
    );
    edited.content = "!ping (edited)".into();
    let deleted_topic: Topic = "inbound.discord.1190804811990446190.1200058256127688735.%40unknown"
        .parse()
        .unwrap();
    let deleted = InboundMessage::event(
        InboundKind::MessageDeleted,
        deleted_topic,
        "1443167930991902725",
        Author::unknown(),
    );
    let mut reactions = Vec::new();
    for kind in [InboundKind::ReactionAdded, InboundKind::ReactionRemoved] {
        let mut reaction = InboundMessage::event(kind, topic(), "1443167930991902725", author());
        reaction.reaction = Some(Reaction::unicode("👍"));
        reactions.push(reaction);
    }
    let mut events = vec![inbound(), edited, deleted];
    events.extend(reactions);
    events.push(command());
    let joined_topic: Topic = "inbound.discord.1190804811990446190.%40space.179258058118135808"
        .parse()
        .unwrap();
    assert_eq!(joined_topic.room().as_str(), crate::envelope::SPACE_ROOM);
    events.push(InboundMessage::event(
        InboundKind::MemberJoined,
        joined_topic,
        "",
        author(),
    ));
    events
}

/// A slash command with a sub-command, a user option (resolved) and the user's
/// locale and permissions, as the Discord gateway publishes it.
fn command() -> InboundMessage {
    let mut command = InboundMessage::event(
        InboundKind::Interaction,
        topic(),
        "1443167930991902799",
        author(),
    );
    let mut users = std::collections::BTreeMap::new();
    users.insert(
        "80351110224678912".to_owned(),
        Author::new("80351110224678912", "nelly"),
    );
    command.interaction = Some(Interaction {
        id: "1443167930991902799".into(),
        kind: InteractionType::Command,
        name: Some("admin".into()),
        options: vec![CommandOption {
            name: "warn".into(),
            kind: OptionType::SubCommand,
            value: None,
            options: vec![
                CommandOption {
                    name: "who".into(),
                    kind: OptionType::User,
                    value: Some(json!("80351110224678912")),
                    options: Vec::new(),
                    focused: false,
                },
                CommandOption {
                    name: "days".into(),
                    kind: OptionType::Integer,
                    value: Some(json!(3)),
                    options: Vec::new(),
                    focused: false,
                },
            ],
            focused: false,
        }],
        resolved: Resolved {
            users,
            ..Resolved::default()
        },
        locale: Some("fr".into()),
        guild_locale: Some("en-US".into()),
        permissions: Some("8".into()),
        ..Interaction::default()
    });
    command
}

/// An interaction envelope keeps its typed options, resolved users and locale.
#[test]
fn an_interaction_round_trips_with_its_options() {
    let command = command();
    let value = to_value(&command.encode());
    assert_eq!(value["interaction"]["type"], "command");
    assert_eq!(value["interaction"]["options"][0]["type"], "sub_command");
    assert_eq!(value["interaction"]["options"][0]["options"][1]["value"], 3);
    assert_eq!(
        value["interaction"]["resolved"]["users"]["80351110224678912"]["name"],
        "nelly"
    );
    assert_eq!(value["content"], "");
    assert_eq!(decode_inbound(&command.encode()).unwrap(), command);
    let mut unknown = value.clone();
    unknown["interaction"]["type"] = json!("ping_v2");
    let decoded = decode_inbound(unknown.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.interaction.unwrap().kind, InteractionType::Unknown);
}

/// An `interaction` envelope without its details would leave subscribers guessing.
#[test]
fn an_interaction_needs_its_details() {
    let mut command = command();
    command.interaction = None;
    let error = decode_inbound(&command.encode()).unwrap_err();
    assert_eq!(error.to_string(), "`interaction` needs `interaction`");
}

/// Every kind a gateway writes survives a round trip and has its wire name.
#[test]
fn every_inbound_kind_round_trips() {
    let events = events();
    let kinds: Vec<InboundKind> = events.iter().map(|event| event.kind).collect();
    assert_eq!(kinds, InboundKind::ALL);
    for event in events {
        let value = to_value(&event.encode());
        assert_eq!(value["kind"], event.kind.as_str());
        assert_eq!(decode_inbound(&event.encode()).unwrap(), event);
    }
}

/// A deletion's actor is unknown on Discord: the reserved author id, escaped in the
/// topic like any other user whose name starts with `@`.
#[test]
fn an_unknown_actor_is_the_reserved_user() {
    let deleted = &events()[2];
    assert!(deleted.author.is_unknown());
    assert_eq!(deleted.topic.user().as_str(), UNKNOWN_USER);
    assert!(deleted.topic.to_string().ends_with(".%40unknown"));
    assert_eq!(deleted.content, "");
}

/// Kinds are added within version 1: an older reader decodes a newer kind as
/// `Unknown` (to skip it) instead of refusing the envelope.
#[test]
fn an_unknown_kind_decodes_as_unknown() {
    let mut value = to_value(&inbound().encode());
    value["kind"] = json!("poll_voted");
    value["poll"] = json!({"answer": 2});
    let decoded = decode_inbound(value.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.kind, InboundKind::Unknown);
}

/// A reaction event without its emoji would leave subscribers guessing.
#[test]
fn a_reaction_needs_its_emoji() {
    let mut reaction = events()[3].clone();
    reaction.reaction = None;
    let error = decode_inbound(&reaction.encode()).unwrap_err();
    assert_eq!(error.to_string(), "`reaction_added` needs `reaction`");
}

/// `direct` tells a DM from a space literally named `@me`, which the `space` field
/// alone cannot; it always follows the topic, whatever a payload claims.
#[test]
fn direct_follows_the_topic() {
    let dm: Topic = "inbound.discord.@me.42.7".parse().unwrap();
    let named: Topic = "inbound.discord.%40me.42.7".parse().unwrap();
    let dm_message = InboundMessage::new(dm, "1", author(), "hi");
    let named_message = InboundMessage::new(named, "1", author(), "hi");
    assert_eq!(dm_message.space, named_message.space);
    assert!(dm_message.direct);
    assert!(!named_message.direct);
    assert_eq!(to_value(&dm_message.encode())["direct"], json!(true));
    assert_eq!(to_value(&named_message.encode())["direct"], json!(false));

    // Older gateways leave it out; a lying payload is corrected.
    for (message, expected) in [(&dm_message, true), (&named_message, false)] {
        let mut value = to_value(&message.encode());
        value.as_object_mut().unwrap().remove("direct");
        assert_eq!(
            decode_inbound(value.to_string().as_bytes()).unwrap().direct,
            expected
        );
        value["direct"] = json!(!expected);
        assert_eq!(
            decode_inbound(value.to_string().as_bytes()).unwrap().direct,
            expected
        );
    }
}

/// The schemas allow an object (outbound: or a string) and nothing else; serde's
/// derived decoders would take an array of the fields in order (`[1,"arr"]` was sent
/// to Discord as "arr").
#[test]
fn json_other_than_an_object_is_refused() {
    let cases: [(&[u8], &str); 6] = [
        (br#"[1,"arr"]"#, "an array"),
        (b" \n[]", "an array"),
        (b"42", "a number"),
        (b"-1.5", "a number"),
        (b"true", "a boolean"),
        (b"null", "null"),
    ];
    for (payload, found) in cases {
        let error = decode_outbound(payload).unwrap_err();
        assert!(
            matches!(error, EnvelopeError::NotAnObject { found: f, string_allowed: true } if f == found),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("an envelope must be a JSON object or string, not {found}")
        );
        let error = decode_inbound(payload).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("an envelope must be a JSON object, not {found}")
        );
    }
    let inbound_as_array = format!("[{}]", String::from_utf8(inbound().encode()).unwrap());
    assert!(matches!(
        decode_inbound(inbound_as_array.as_bytes()),
        Err(EnvelopeError::NotAnObject {
            found: "an array",
            ..
        })
    ));
    assert!(matches!(
        decode_inbound(br#""pong""#),
        Err(EnvelopeError::NotAnObject {
            found: "a string",
            ..
        })
    ));
}

/// One outbound envelope of each action, as a subscriber builds it.
fn actions() -> Vec<OutboundMessage> {
    vec![
        OutboundMessage::reply_to(&inbound(), "pong"),
        OutboundMessage::edit("1443167930991902726", "pong (12 ms)"),
        OutboundMessage::delete("1443167930991902726"),
        OutboundMessage::react("1443167930991902725", "🎲"),
        OutboundMessage::unreact("1443167930991902725", "ferris:1100000000000000001"),
        OutboundMessage::typing().in_reply_to(&inbound()),
        OutboundMessage::respond(&command(), "pong").ephemeral(),
        OutboundMessage::defer(&command()),
        OutboundMessage::update(&command(), "rolled 7"),
        OutboundMessage::modal(
            &command(),
            Modal {
                custom_id: "example:feedback".into(),
                title: "Feedback".into(),
                fields: vec![ModalInput {
                    style: InputStyle::Paragraph,
                    max_length: Some(500),
                    ..ModalInput::short("text", "What do you think?")
                }],
            },
        ),
        OutboundMessage::autocomplete(
            &command(),
            vec![
                Choice::text("2d6"),
                Choice {
                    name: "one die".into(),
                    value: json!(1),
                },
            ],
        ),
        OutboundMessage::followup(&command(), "and one more thing").ephemeral(),
        OutboundMessage::edit_response(&command(), "pong (edited)"),
        OutboundMessage::delete_response(&command()),
        OutboundMessage::start_thread("1443167930991902725", "Discussion"),
    ]
}

/// Every action survives a round trip, with its wire name (`send` left out).
#[test]
fn every_outbound_action_round_trips() {
    let actions = actions();
    let names: Vec<OutboundAction> = actions.iter().map(|action| action.action).collect();
    assert_eq!(names, OutboundAction::ALL);
    for action in actions {
        let value = to_value(&action.encode());
        if action.action.is_send() {
            assert!(value.get("action").is_none(), "{value}");
        } else {
            assert_eq!(value["action"], action.action.as_str());
        }
        assert_eq!(decode_outbound(&action.encode()).unwrap(), action);
    }
    assert_eq!(
        to_value(&OutboundMessage::delete("9").encode()),
        json!({"v": 1, "action": "delete", "message_id": "9", "mentions": "users"})
    );
}

/// Every payload valid before actions existed means the same: a send.
#[test]
fn an_absent_action_is_a_send() {
    for payload in [&br#"{"content":"pong"}"#[..], br#""pong""#] {
        let message = decode_outbound(payload).unwrap();
        assert_eq!(message.action, OutboundAction::Send);
        assert_eq!(message, OutboundMessage::new("pong"));
    }
}

/// Each action refuses what it cannot be done without, naming the field.
#[test]
fn actions_need_their_fields() {
    for (payload, error) in [
        (r#"{"v":1}"#, "outbound message has empty content"),
        (r#"{"action":"send"}"#, "outbound message has empty content"),
        (
            r#"{"action":"edit","message_id":"1"}"#,
            "outbound message has empty content",
        ),
        (
            r#"{"action":"edit","content":"x"}"#,
            "`edit` needs `message_id`",
        ),
        (r#"{"action":"delete"}"#, "`delete` needs `message_id`"),
        (
            r#"{"action":"delete","message_id":" "}"#,
            "`delete` needs `message_id`",
        ),
        (
            r#"{"action":"react","message_id":"1"}"#,
            "`react` needs `emoji`",
        ),
        (
            r#"{"action":"unreact","emoji":"x"}"#,
            "`unreact` needs `message_id`",
        ),
    ] {
        assert_eq!(
            decode_outbound(payload.as_bytes()).unwrap_err().to_string(),
            error,
            "{payload}"
        );
    }
    assert!(decode_outbound(br#"{"action":"typing"}"#).is_ok());
    assert!(decode_outbound(br#"{"action":"delete","message_id":"1"}"#).is_ok());
}

/// An interaction is answered by the id of its envelope: without `in_reply_to` the
/// gateway could not know which one; a modal needs its form.
#[test]
fn interaction_actions_need_their_fields() {
    let id = r#""in_reply_to":"0192f1a0-0000-7000-8000-000000000001""#;
    for (payload, error) in [
        (
            r#"{"action":"defer"}"#.to_owned(),
            "`defer` needs `in_reply_to`",
        ),
        (
            r#"{"action":"respond","content":"pong"}"#.to_owned(),
            "`respond` needs `in_reply_to`",
        ),
        (
            format!(r#"{{"action":"respond",{id}}}"#),
            "outbound message has empty content",
        ),
        (
            format!(r#"{{"action":"modal",{id}}}"#),
            "`modal` needs `modal`",
        ),
        (
            format!(
                r#"{{"action":"modal",{id},"modal":{{"custom_id":"a","title":" ","fields":[]}}}}"#
            ),
            "`modal` needs `modal.title`",
        ),
        (
            format!(
                r#"{{"action":"modal",{id},"modal":{{"custom_id":"a","title":"t","fields":[]}}}}"#
            ),
            "`modal` needs `modal.fields`",
        ),
    ] {
        assert_eq!(
            decode_outbound(payload.as_bytes()).unwrap_err().to_string(),
            error,
            "{payload}"
        );
    }
    for payload in [
        format!(r#"{{"action":"defer",{id}}}"#),
        format!(r#"{{"action":"autocomplete",{id}}}"#),
        format!(r#"{{"action":"delete_response",{id}}}"#),
    ] {
        assert!(decode_outbound(payload.as_bytes()).is_ok(), "{payload}");
    }
}

/// An action from a newer subscriber is refused with a message naming it, which the
/// gateway puts in a failed receipt.
#[test]
fn an_unknown_action_is_refused_by_name() {
    let error = decode_outbound(br#"{"action":"pin","message_id":"1"}"#).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("unknown variant `pin`"), "{message}");
    assert!(message.contains("typing"), "{message}");
    assert_eq!(
        "pin".parse::<OutboundAction>().unwrap_err(),
        "unknown action `pin` (known: send, edit, delete, react, unreact, typing, respond, defer, update, modal, autocomplete, followup, edit_response, delete_response, start_thread)"
    );
    assert_eq!("edit".parse::<OutboundAction>(), Ok(OutboundAction::Edit));
}

/// A thread needs a name, within Discord's 100 characters.
#[test]
fn start_thread_needs_a_name_within_the_limit() {
    assert!(decode_outbound(&OutboundMessage::start_thread("1", "x").encode()).is_ok());
    for (payload, error) in [
        (
            r#"{"action":"start_thread","message_id":"1"}"#.to_owned(),
            "`start_thread` needs `thread_name`".to_owned(),
        ),
        (
            r#"{"action":"start_thread","thread_name":"x"}"#.to_owned(),
            "`start_thread` needs `message_id`".to_owned(),
        ),
        (
            format!(
                r#"{{"action":"start_thread","message_id":"1","thread_name":"{}"}}"#,
                "n".repeat(101)
            ),
            "`thread_name` is 101 characters long, over the 100-character limit".to_owned(),
        ),
    ] {
        assert_eq!(
            decode_outbound(payload.as_bytes()).unwrap_err().to_string(),
            error
        );
    }
}

/// A send with embeds, components and files keeps all of them, in Discord's JSON.
#[test]
fn rich_content_round_trips_in_discords_shapes() {
    let embed = json!({"title": "x", "fields": [{"name": "a", "value": "b"}]});
    let row = json!({"type": 1, "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "go"}]});
    let mut message = OutboundMessage::new("with extras");
    message.embeds = Some(vec![embed.as_object().unwrap().clone()]);
    message.components = Some(vec![row.as_object().unwrap().clone()]);
    message.files = vec![OutboundFile::new("a.bin", &[0, 1, 2, 255])];
    let value = to_value(&message.encode());
    assert_eq!(value["embeds"], json!([embed]));
    assert_eq!(value["components"], json!([row]));
    assert_eq!(
        value["files"],
        json!([{"filename": "a.bin", "base64": "AAEC/w=="}])
    );
    let decoded = decode_outbound(&message.encode()).unwrap();
    assert_eq!(decoded, message);
    assert_eq!(decoded.files[0].bytes().unwrap(), [0, 1, 2, 255]);
    // Absent stays absent: an edit without `embeds` keeps the message's embeds.
    let plain = to_value(&OutboundMessage::new("x").encode());
    for field in ["embeds", "components", "files"] {
        assert!(plain.get(field).is_none(), "{field} in {plain}");
    }
}

/// A blank `content` is fine exactly when something else is sent: embeds or files on a
/// send; on an edit, any change of embeds, components or files.
#[test]
fn blank_content_is_allowed_only_with_something_else_to_show() {
    let file = r#"[{"filename":"a.txt","base64":"aGk="}]"#;
    for payload in [
        r#"{"embeds":[{"title":"x"}]}"#.to_owned(),
        format!(r#"{{"content":" ","files":{file}}}"#),
        r#"{"action":"edit","message_id":"1","components":[]}"#.to_owned(),
        r#"{"action":"edit","message_id":"1","embeds":[]}"#.to_owned(),
        format!(r#"{{"action":"edit","message_id":"1","files":{file}}}"#),
    ] {
        assert!(decode_outbound(payload.as_bytes()).is_ok(), "{payload}");
    }
    for payload in [
        r#"{"embeds":[]}"#,
        r#"{"components":[{"type":1,"components":[]}]}"#,
        r#"{"files":[]}"#,
        r#"{"embeds":null}"#,
        r#"{"action":"edit","message_id":"1","files":[]}"#,
        r#"{"action":"edit","message_id":"1","embeds":null}"#,
    ] {
        assert!(
            matches!(
                decode_outbound(payload.as_bytes()),
                Err(EnvelopeError::EmptyContent)
            ),
            "{payload}"
        );
    }
}

/// Counts and files are checked before a gateway sees the envelope, with a message
/// that names the field.
#[test]
fn rich_content_limits_are_enforced_with_a_reason() {
    let many = |n: usize, item: serde_json::Value| serde_json::Value::Array(vec![item; n]);
    let cases = [
        (
            json!({"embeds": many(11, json!({"title": "x"}))}),
            "`embeds` has 11 entries, more than the 10 a message may carry",
        ),
        (
            json!({"content": "x", "components": many(6, json!({"type": 1}))}),
            "`components` has 6 entries, more than the 5 a message may carry",
        ),
        (
            json!({"files": many(11, json!({"filename": "a", "base64": ""}))}),
            "`files` has 11 entries, more than the 10 a message may carry",
        ),
        (
            json!({"files": [{"filename": " ", "base64": ""}]}),
            "file \" \": the file name is blank",
        ),
        (
            json!({"files": [{"filename": "../etc/passwd", "base64": ""}]}),
            "file \"../etc/passwd\": the file name contains `/`, `\\` or a control character",
        ),
    ];
    for (payload, error) in cases {
        assert_eq!(
            decode_outbound(payload.to_string().as_bytes())
                .unwrap_err()
                .to_string(),
            error,
            "{payload}"
        );
    }
    let not_base64 = json!({"files": [{"filename": "a.txt", "base64": "not base64!"}]});
    let error = decode_outbound(not_base64.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("file \"a.txt\": `base64` is not standard base64"),
        "{error}"
    );
    let ten = json!({"embeds": many(10, json!({"title": "x"})), "files": many(10, json!({"filename": "a", "base64": "aGk="}))});
    assert!(decode_outbound(ten.to_string().as_bytes()).is_ok());
}

proptest! {
    /// Whatever a subscriber says (emoji, quotes, control characters) arrives intact.
    #[test]
    fn any_content_round_trips(
        content in any::<String>().prop_filter("not blank", |s| !s.trim().is_empty()),
        bare in any::<bool>(),
    ) {
        let message = OutboundMessage::new(content.clone());
        prop_assert_eq!(decode_outbound(&message.encode()).unwrap(), message);
        if bare {
            let payload = serde_json::to_vec(&content).unwrap();
            prop_assert_eq!(decode_outbound(&payload).unwrap().content, content);
        }
    }

    /// Decoding arbitrary bytes never panics.
    #[test]
    fn decoding_garbage_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_inbound(&payload);
        let _ = decode_outbound(&payload);
    }
}
