//! `Pattern` and `PatternBuilder`: what the builder makes and what patterns match.

use proptest::prelude::*;

use super::Pattern;
use crate::topic::{Direction, Platform, Segment, Space, Topic, TopicError};

/// The documented example: unset segments become whole-segment `*`s.
#[test]
fn builder_fills_unset_segments_with_whole_segment_stars() {
    let pattern = Pattern::builder()
        .direction(Direction::Inbound)
        .platform("discord")
        .space(Space::id("123"))
        .build()
        .unwrap();
    assert_eq!(pattern.to_string(), "inbound.discord.123.*.*");
    assert_eq!(Pattern::builder().build().unwrap().as_str(), "*.*.*.*.*");
    let user_anywhere = Pattern::builder()
        .user("179258058118135808")
        .build()
        .unwrap();
    assert_eq!(user_anywhere.as_str(), "*.*.*.*.179258058118135808");
}

/// A bot subscribes to the receipts of its replies with the receipt form of its
/// patterns: same address, other direction; a pattern without a direction segment is
/// left alone.
#[test]
fn with_direction_replaces_only_the_first_segment() {
    let guild = Pattern::builder()
        .direction(Direction::Inbound)
        .platform("discord")
        .space(Space::id("G.1"))
        .build()
        .unwrap();
    assert_eq!(
        guild.with_direction(Direction::Receipt).as_str(),
        "receipt.discord.G%2E1.*.*"
    );
    assert_eq!(
        Pattern::parse_raw("*.console.*.*.*")
            .with_direction(Direction::Outbound)
            .as_str(),
        "outbound.console.*.*.*"
    );
    assert_eq!(
        Pattern::parse_raw("*")
            .with_direction(Direction::Receipt)
            .as_str(),
        "*"
    );
    let topic: Topic = "receipt.discord.G%2E1.c.u".parse().unwrap();
    assert!(
        guild
            .with_direction(Direction::Receipt)
            .matches_topic(&topic)
    );
}

/// Exact segments are escaped like topics, so they never contain a metacharacter.
#[test]
fn builder_escapes_exact_segments_like_topics() {
    let pattern = Pattern::builder()
        .direction(Direction::Inbound)
        .platform("irc")
        .space(Space::id("libera"))
        .room("#rust.beginners")
        .user("ali ce*")
        .build()
        .unwrap();
    assert_eq!(
        pattern.as_str(),
        "inbound.irc.libera.#rust%2Ebeginners.ali%20ce%2A"
    );
    let dm = Pattern::builder()
        .platform("discord")
        .direct()
        .build()
        .unwrap();
    assert_eq!(dm.as_str(), "*.discord.@me.*.*");
    let named_at_me = Pattern::builder().space(Space::id("@me")).build().unwrap();
    assert_eq!(named_at_me.as_str(), "*.*.%40me.*.*");
}

/// Bad input gets the same typed errors topics get, not a silently wrong pattern.
#[test]
fn builder_rejects_bad_platforms_and_empty_values() {
    assert_eq!(
        Pattern::builder().platform("Discord").build(),
        Err(TopicError::InvalidPlatform {
            found: "Discord".into()
        })
    );
    assert_eq!(
        Pattern::builder().platform("").build(),
        Err(TopicError::EmptySegment {
            segment: Segment::Platform
        })
    );
    assert_eq!(
        Pattern::builder().space(Space::id("")).build(),
        Err(TopicError::EmptySegment {
            segment: Segment::Space
        })
    );
    assert_eq!(
        Pattern::builder().room("").build(),
        Err(TopicError::EmptySegment {
            segment: Segment::Room
        })
    );
    assert_eq!(
        Pattern::builder().user("").build(),
        Err(TopicError::EmptySegment {
            segment: Segment::User
        })
    );
}

/// The subscriptions every daemon makes are one call each.
#[test]
fn convenience_constructors_give_five_segment_patterns() {
    let discord = Platform::new("discord").unwrap();
    assert_eq!(Pattern::all_inbound().as_str(), "inbound.*.*.*.*");
    assert_eq!(
        Pattern::inbound_platform(&discord).as_str(),
        "inbound.discord.*.*.*"
    );
    assert_eq!(
        Pattern::outbound_platform(&discord).as_str(),
        "outbound.discord.*.*.*"
    );
    let topic: Topic = "inbound.irc.libera.#rust%2Ebeginners.alice"
        .parse()
        .unwrap();
    let exact = Pattern::exact(&topic);
    assert!(exact.matches_topic(&topic));
    assert!(!exact.matches("inbound.irc.libera.#rust%2Ebeginners.alicex"));
}

/// Hand-written patterns are taken as is (Redis accepts anything) and print back.
#[test]
fn raw_patterns_are_accepted_verbatim() {
    for raw in ["", "*", "inbound.discord.G1*", "[", "a\\", "inbound..x"] {
        let pattern: Pattern = raw.parse().unwrap();
        assert_eq!(pattern.to_string(), raw);
        assert_eq!(Pattern::parse_raw(raw), pattern);
    }
}

/// Matching a topic is matching its canonical string.
#[test]
fn patterns_match_topics_by_their_canonical_string() {
    let topic = Topic::builder(Direction::Inbound, "discord")
        .space(Space::id("G1"))
        .room("general")
        .user("alice")
        .build()
        .unwrap();
    let guild = Pattern::builder()
        .direction(Direction::Inbound)
        .platform("discord")
        .space(Space::id("G1"))
        .build()
        .unwrap();
    assert!(guild.matches_topic(&topic));
    assert!(guild.matches("inbound.discord.G1.general.alice"));
    assert!(!guild.matches("inbound.discord.G10.general.alice"));
    assert!(!Pattern::all_inbound().matches_topic(&topic.reply()));
    assert!(Pattern::parse_raw("inbound.discord.G1*").matches("inbound.discord.G10.x.y"));
}

fn raw_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,20}",
        "[a-zA-Z .*?@%#\\[\\]\\\\é-]{1,12}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

proptest! {
    /// A builder pattern with some exact segments matches the topic made of the same
    /// values, and stops matching when any one exact segment differs.
    #[test]
    fn builder_patterns_match_exactly_their_topics(
        outbound in any::<bool>(),
        platform in "[a-z0-9][a-z0-9_-]{0,10}",
        direct in any::<bool>(),
        space in raw_value(),
        room in raw_value(),
        user in raw_value(),
        exact in proptest::array::uniform5(any::<bool>()),
        changed in 0usize..5,
    ) {
        let direction = if outbound { Direction::Outbound } else { Direction::Inbound };
        let space = if direct { Space::Direct } else { Space::id(space) };
        let topic_of = |direction: Direction, platform: &str, space: &Space, room: &str, user: &str| {
            Topic::builder(direction, platform)
                .space(space.clone())
                .room(room)
                .user(user)
                .build()
                .unwrap()
        };
        let mut builder = Pattern::builder();
        if exact[0] { builder = builder.direction(direction); }
        if exact[1] { builder = builder.platform(platform.clone()); }
        if exact[2] { builder = builder.space(space.clone()); }
        if exact[3] { builder = builder.room(room.clone()); }
        if exact[4] { builder = builder.user(user.clone()); }
        let pattern = builder.build().unwrap();
        let topic = topic_of(direction, &platform, &space, &room, &user);
        prop_assert!(pattern.matches_topic(&topic), "{} !~ {}", pattern, topic);
        prop_assert!(pattern.lint().is_empty(), "{}: {:?}", pattern, pattern.lint());

        if exact[changed] {
            let other = match changed {
                0 => {
                    let flipped = if outbound { Direction::Inbound } else { Direction::Outbound };
                    topic_of(flipped, &platform, &space, &room, &user)
                }
                1 => topic_of(direction, &format!("{platform}x"), &space, &room, &user),
                2 => {
                    // `@me` as an id is `%40me`, never the direct-message space.
                    let other_space = match &space {
                        Space::Direct => Space::Id("@me".into()),
                        Space::Id(raw) => Space::Id(format!("{raw}x")),
                    };
                    topic_of(direction, &platform, &other_space, &room, &user)
                }
                3 => topic_of(direction, &platform, &space, &format!("{room}x"), &user),
                _ => topic_of(direction, &platform, &space, &room, &format!("x{user}")),
            };
            prop_assert!(!pattern.matches_topic(&other), "{} =~ {}", pattern, other);
        }
    }
}
