use super::*;
use proptest::prelude::*;

const EXAMPLE: &str = "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808";

/// The byte fast path must agree with the `char` rule on every ASCII character.
#[test]
fn ascii_escape_rule_matches_the_char_rule() {
    for byte in 0u8..128 {
        for index in [0, 1] {
            assert_eq!(
                must_escape_ascii(index, byte),
                must_escape(index, char::from(byte)),
                "byte {byte:#04x} at index {index}"
            );
        }
    }
}

/// A delivery is checked against its envelope's topic: equal spellings of one
/// address agree, anything else (another room, a glob character) does not.
#[test]
fn is_channel_compares_addresses_not_spellings() {
    let topic = Topic::builder(Direction::Inbound, "discord")
        .space(Space::id("G"))
        .room("a.b")
        .user("U")
        .build()
        .unwrap();
    assert!(topic.is_channel("inbound.discord.G.a%2Eb.U"));
    assert!(topic.is_channel("inbound.discord.G.a%2eb.U"));
    assert!(topic.is_channel("inbound.discord.%47.a%2Eb.U"));
    for other in [
        "inbound.discord.G.a%2Eb.V",
        "outbound.discord.G.a%2Eb.U",
        "inbound.discord.G.a%2Eb*.U",
        "inbound.discord.G.a.b.U",
        "inbound.discord.G.a%2Eb.U.x",
        "inbound.discord.G.a%2Eb",
        "",
    ] {
        assert!(!topic.is_channel(other), "{other}");
    }
    let direct = Topic::builder(Direction::Inbound, "discord")
        .direct()
        .room("C")
        .user("U")
        .build()
        .unwrap();
    assert!(direct.is_channel("inbound.discord.@me.C.U"));
    assert!(!direct.is_channel("inbound.discord.%40me.C.U"));
}

#[test]
fn parses_the_documented_example() {
    let topic: Topic = EXAMPLE.parse().unwrap();
    assert_eq!(topic.direction(), Direction::Inbound);
    assert_eq!(topic.platform().as_str(), "discord");
    assert_eq!(topic.space(), &Space::Id("1190804811990446190".into()));
    assert_eq!(topic.room().as_str(), "1200058256127688735");
    assert_eq!(topic.user().as_str(), "179258058118135808");
    assert_eq!(topic.to_string(), EXAMPLE);
}

/// Subscribers answer on `reply()`; it must keep the address and flip the direction.
#[test]
fn reply_is_the_outbound_topic_at_the_same_address() {
    let topic: Topic = EXAMPLE.parse().unwrap();
    assert_eq!(
        topic.reply().to_string(),
        "outbound.discord.1190804811990446190.1200058256127688735.179258058118135808"
    );
}

#[test]
fn builder_escapes_irc_style_names() {
    let topic = Topic::builder(Direction::Inbound, "irc")
        .space(Space::id("libera"))
        .room("#rust.beginners")
        .user("ali ce*")
        .build()
        .unwrap();
    assert_eq!(
        topic.to_string(),
        "inbound.irc.libera.#rust%2Ebeginners.ali%20ce%2A"
    );
    assert_eq!(topic.to_string().parse::<Topic>().unwrap(), topic);
}

/// A DM has no guild: it gets the reserved `@me` space, never an empty segment, and a
/// real space literally named `@me` cannot be mistaken for it.
#[test]
fn direct_messages_use_the_reserved_space_and_cannot_collide() {
    let dm = Topic::builder(Direction::Inbound, "discord")
        .direct()
        .room("42")
        .user("7")
        .build()
        .unwrap();
    assert_eq!(dm.to_string(), "inbound.discord.@me.42.7");
    assert!(dm.to_string().parse::<Topic>().unwrap().space().is_direct());

    let named_at_me = Topic::builder(Direction::Inbound, "slack")
        .space(Space::id("@me"))
        .room("r")
        .user("u")
        .build()
        .unwrap();
    assert_eq!(named_at_me.to_string(), "inbound.slack.%40me.r.u");
    let parsed: Topic = named_at_me.to_string().parse().unwrap();
    assert_eq!(parsed.space(), &Space::Id("@me".into()));
}

/// Every malformed shape gets its own typed error, never a panic (the Go gateway
/// crashed on a short topic).
#[test]
fn malformed_topics_get_typed_errors() {
    let cases: &[(&str, TopicError)] = &[
        ("", TopicError::SegmentCount { found: 1 }),
        ("outbound.discord.1", TopicError::SegmentCount { found: 3 }),
        (
            "inbound.discord.g.c.u.extra",
            TopicError::SegmentCount { found: 6 },
        ),
        (
            "sideways.discord.g.c.u",
            TopicError::UnknownDirection {
                found: "sideways".into(),
            },
        ),
        (
            ".discord.g.c.u",
            TopicError::EmptySegment {
                segment: Segment::Direction,
            },
        ),
        (
            "inbound..g.c.u",
            TopicError::EmptySegment {
                segment: Segment::Platform,
            },
        ),
        (
            "inbound.discord..c.u",
            TopicError::EmptySegment {
                segment: Segment::Space,
            },
        ),
        (
            "inbound.discord.g..u",
            TopicError::EmptySegment {
                segment: Segment::Room,
            },
        ),
        (
            "inbound.discord.g.c.",
            TopicError::EmptySegment {
                segment: Segment::User,
            },
        ),
        (
            "inbound.Discord.g.c.u",
            TopicError::InvalidPlatform {
                found: "Discord".into(),
            },
        ),
        (
            "inbound.discord.g.c%2.u",
            TopicError::BadEscape {
                segment: Segment::Room,
                position: 1,
            },
        ),
        (
            "inbound.discord.g.c%zz.u",
            TopicError::BadEscape {
                segment: Segment::Room,
                position: 1,
            },
        ),
        (
            "inbound.discord.g.c.%FF",
            TopicError::BadEscape {
                segment: Segment::User,
                position: 0,
            },
        ),
        (
            "inbound.discord.g*.c.u",
            TopicError::UnescapedCharacter {
                segment: Segment::Space,
                character: '*',
            },
        ),
        (
            "inbound.discord.g.c.a b",
            TopicError::UnescapedCharacter {
                segment: Segment::User,
                character: ' ',
            },
        ),
        (
            "inbound.discord.@you.c.u",
            TopicError::UnescapedCharacter {
                segment: Segment::Space,
                character: '@',
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<Topic>().as_ref(), Err(expected), "{input:?}");
    }
}

#[test]
fn error_messages_are_lowercase_and_specific() {
    let err = "outbound.discord.1".parse::<Topic>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected 5 dot-separated segments (direction.platform.space.room.user), found 3"
    );
    let long = format!("{}.discord.g.c.u", "x".repeat(500));
    let message = long.parse::<Topic>().unwrap_err().to_string();
    assert!(
        message.len() < 200,
        "error message not shortened: {message}"
    );
}

#[test]
fn builder_refuses_empty_segments_and_bad_platforms() {
    let missing_space = Topic::builder(Direction::Inbound, "discord")
        .room("c")
        .user("u")
        .build();
    assert_eq!(
        missing_space,
        Err(TopicError::EmptySegment {
            segment: Segment::Space
        })
    );
    let empty_space = Topic::builder(Direction::Inbound, "discord")
        .space(Space::id(""))
        .room("c")
        .user("u")
        .build();
    assert_eq!(
        empty_space,
        Err(TopicError::EmptySegment {
            segment: Segment::Space
        })
    );
    let bad_platform = Topic::builder(Direction::Inbound, "dis.cord")
        .space(Space::id("g"))
        .room("c")
        .user("u")
        .build();
    assert!(matches!(
        bad_platform,
        Err(TopicError::InvalidPlatform { .. })
    ));
}

#[test]
fn lowercase_hex_is_accepted_and_printed_uppercase() {
    let topic: Topic = "inbound.irc.net.%23a%2eb.u".parse().unwrap();
    assert_eq!(topic.room().as_str(), "#a.b");
    assert_eq!(topic.to_string(), "inbound.irc.net.#a%2Eb.u");
}

/// docs/subscribers.md defines `unreserved` and the reading rules; this holds the
/// code to them: punctuation and non-ASCII letters as is, Unicode white space and
/// `Cc` controls escaped, `@` only when first; needless escapes accepted on reading.
#[test]
fn segments_follow_the_documented_unreserved_rule() {
    for kept in ["#café", "a:b/c+d!-e", "日本", "u@host", "\u{200B}"] {
        assert_eq!(escape_segment(kept), kept, "{kept:?} is unreserved");
    }
    for (raw, escaped) in [
        ("a\u{A0}b", "a%C2%A0b"),
        ("\u{3000}", "%E3%80%80"),
        ("\u{85}", "%C2%85"),
        ("\u{7F}", "%7F"),
        ("@x", "%40x"),
    ] {
        assert_eq!(escape_segment(raw), escaped, "{raw:?}");
    }
    let topic: Topic = "inbound.irc.%41.%2e.%c3%a9".parse().unwrap();
    assert_eq!(topic.space(), &Space::Id("A".into()));
    assert_eq!(topic.room().as_str(), ".");
    assert_eq!(topic.user().as_str(), "é");
    assert_eq!(topic.to_string(), "inbound.irc.A.%2E.é");
}

#[test]
fn topics_serialize_as_strings() {
    let topic: Topic = EXAMPLE.parse().unwrap();
    let json = serde_json::to_string(&topic).unwrap();
    assert_eq!(json, format!("\"{EXAMPLE}\""));
    assert_eq!(serde_json::from_str::<Topic>(&json).unwrap(), topic);
    assert!(serde_json::from_str::<Topic>("\"inbound.x\"").is_err());
}

proptest! {
    /// Any string survives escape + unescape, and its escaped form is safe in a topic
    /// and in a glob pattern.
    #[test]
    fn any_segment_round_trips(raw in any::<String>().prop_filter("non-empty", |s| !s.is_empty())) {
        let escaped = escape_segment(&raw);
        prop_assert!(!escaped.contains(['.', '*', '?', '[', ']', '\\']));
        prop_assert!(!escaped.chars().any(|c| c.is_whitespace() || c.is_control()));
        prop_assert!(!escaped.starts_with('@'));
        let decoded = unescape_segment(&escaped, Segment::Room).unwrap();
        prop_assert_eq!(decoded.as_ref(), raw.as_str());
    }

    /// Any topic built from arbitrary strings prints and parses back to itself.
    #[test]
    fn any_topic_round_trips(
        space in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        room in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        user in any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        platform in "[a-z0-9][a-z0-9_-]{0,12}",
        direct in any::<bool>(),
    ) {
        let builder = Topic::builder(Direction::Inbound, platform).room(room).user(user);
        let builder = if direct { builder.direct() } else { builder.space(Space::id(space)) };
        let topic = builder.build().unwrap();
        let printed = topic.to_string();
        prop_assert_eq!(printed.split('.').count(), 5);
        prop_assert_eq!(printed.parse::<Topic>().unwrap(), topic);
    }

    /// Parsing arbitrary input never panics.
    #[test]
    fn parsing_garbage_never_panics(input in any::<String>()) {
        let _ = input.parse::<Topic>();
    }
}
