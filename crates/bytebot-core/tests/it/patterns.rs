//! PSUBSCRIBE against a real Redis: `glob_match` must predict every delivery exactly.
//!
//! Each test subscribes one RESP3 connection to a table of patterns (builder-made ones,
//! hand-written risky ones, and every glob quirk the matcher ports), publishes a table of
//! channels (well-formed topics plus a few raw channels for the quirks), and compares
//! what Redis delivered with what the Rust port says Redis should deliver.

use std::collections::BTreeSet;

use bytebot_core::pattern::{Pattern, Severity, glob_match, lint};
use bytebot_core::{Direction, Platform, Space, Topic};
use bytebot_test_support::{PATIENCE, RedisServer};
use redis::{AsyncCommands, PushKind, Value};

/// Published last; once the catch-all `*` delivers it, every earlier message is in, since
/// Redis writes one connection's pushes in publish order.
const SENTINEL: &[u8] = b"zz-patterns-test-end";

/// The catch-all pattern that receives [`SENTINEL`].
const CATCH_ALL: &[u8] = b"*";

fn topic(direction: Direction, platform: &str, space: Space, room: &str, user: &str) -> Vec<u8> {
    Topic::builder(direction, platform)
        .space(space)
        .room(room)
        .user(user)
        .build()
        .unwrap()
        .to_string()
        .into_bytes()
}

fn built(builder: bytebot_core::pattern::PatternBuilder) -> Vec<u8> {
    builder.build().unwrap().to_string().into_bytes()
}

/// Well-formed topics, including escaped segments, `@me`, `G1` vs `G10` and non-ASCII.
fn topics() -> Vec<Vec<u8>> {
    use Direction::{Inbound, Outbound};
    vec![
        topic(Inbound, "discord", Space::id("G1"), "general", "alice"),
        topic(Inbound, "discord", Space::id("G10"), "general", "alice"),
        topic(Inbound, "discord", Space::id("G2"), "general", "bob"),
        topic(Inbound, "discord", Space::id("Gz"), "x", "y"),
        topic(Inbound, "discord", Space::id("G9"), "c", "u"),
        topic(Outbound, "discord", Space::id("G1"), "general", "alice"),
        topic(Inbound, "discord", Space::Direct, "42", "7"),
        topic(Inbound, "slack", Space::id("@me"), "r", "u"),
        topic(
            Inbound,
            "irc",
            Space::id("libera"),
            "#rust.beginners",
            "alice",
        ),
        topic(Inbound, "matrix", Space::id("server"), "café", "zoë"),
        topic(Inbound, "matrix", Space::id("server"), "cafe", "zoe"),
        topic(Inbound, "x", Space::id("G1"), "a", "b"),
        topic(Inbound, "discord", Space::id("G1"), "general", "ali ce*"),
        topic(Outbound, "console", Space::id("local"), "tty", "me"),
        topic(
            Inbound,
            "discord",
            Space::id("1190804811990446190"),
            "1200058256127688735",
            "179258058118135808",
        ),
        topic(Inbound, "discord", Space::id("G1"), "5", "7"),
        topic(Inbound, "discord", Space::id("G1.5"), "7", "8"),
        topic(Outbound, "irc", Space::id("libera"), "#x", "y"),
        topic(Inbound, "discord", Space::id("G1*"), "c", "u"),
        topic(
            Inbound,
            "telegram",
            Space::id("-100123"),
            "[room]",
            "back\\slash",
        ),
        topic(Inbound, "discord", Space::id("G1"), "general", "100%"),
        topic(Inbound, "discord", Space::id("G"), "c", "u"),
        topic(Inbound, "discord", Space::id("7"), "c", "u"),
        topic(
            Inbound,
            "discord",
            Space::id("日本"),
            "チャンネル",
            "ユーザー",
        ),
    ]
}

/// Channels no gateway publishes, for the quirks topics never exercise.
fn raw_channels() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        b"a\\".to_vec(),
        b"xb".to_vec(),
        b"xd".to_vec(),
        b"x[".to_vec(),
        b"q".to_vec(),
        b"b".to_vec(),
        b"\x00".to_vec(),
        b"\xff".to_vec(),
        b"raw*star".to_vec(),
        b"inbound.discord.G1.general.alice.extra".to_vec(),
        b"inbound.discord".to_vec(),
        b"a".repeat(1001),
    ]
}

fn patterns() -> Vec<Vec<u8>> {
    let discord = Platform::new("discord").unwrap();
    let exact_topic: Topic =
        "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808"
            .parse()
            .unwrap();
    let mut patterns = vec![
        // Builder-made.
        Pattern::all_inbound().to_string().into_bytes(),
        Pattern::inbound_platform(&discord).to_string().into_bytes(),
        Pattern::outbound_platform(&discord)
            .to_string()
            .into_bytes(),
        Pattern::exact(&exact_topic).to_string().into_bytes(),
        built(
            Pattern::builder()
                .direction(Direction::Inbound)
                .platform("discord")
                .space(Space::id("G1")),
        ),
        built(Pattern::builder().platform("discord").direct()),
        built(Pattern::builder().space(Space::id("@me"))),
        built(Pattern::builder().space(Space::id("G1*"))),
        built(Pattern::builder().space(Space::id("G1.5"))),
        built(Pattern::builder().room("#rust.beginners")),
        built(Pattern::builder().room("café")),
        built(Pattern::builder().user("ali ce*")),
        built(Pattern::builder().room("[room]").user("back\\slash")),
        // Hand-written, the usual ones.
        CATCH_ALL.to_vec(),
        b"**".to_vec(),
        b"inbound.*".to_vec(),
        b"outbound.discord.*".to_vec(),
        b"outbound.*.*.*.*".to_vec(),
        // Hand-written, risky: partial wildcards, wrong counts, shifting segments.
        b"inbound.discord.G1*".to_vec(),
        b"inbound.discord.G1*.*.*".to_vec(),
        b"inbound.discord.G1.*.*.*".to_vec(),
        b"inbound.discord.G1.*".to_vec(),
        b"inbound.discord".to_vec(),
        b"*.discord.*".to_vec(),
        b"inbound.*.G1.*".to_vec(),
        b"inbund.*".to_vec(),
        b"inbound.Discord.*".to_vec(),
        b"inbound..*".to_vec(),
        // Classes, negation, ranges.
        b"inbound.discord.G[0-9].*.*".to_vec(),
        b"inbound.discord.G[^1].*.*".to_vec(),
        b"inbound.discord.G[z-a].*.*".to_vec(),
        b"*.*.*.*.[0-9]*".to_vec(),
        b"[]*".to_vec(),
        b"*[\x80-\xbf]".to_vec(),
        // `?`: one byte, not one character.
        b"inbound.discord.?.*.*".to_vec(),
        b"inbound.discord.G?.*.*".to_vec(),
        b"inbound.?.*.*.*".to_vec(),
        "inbound.matrix.*.caf?.*".as_bytes().to_vec(),
        "inbound.matrix.*.caf??.*".as_bytes().to_vec(),
        // Escapes.
        b"inbound\\.discord.*".to_vec(),
        b"inbound.discord.\\G1.*.*".to_vec(),
        b"*\\**".to_vec(),
        b"*%2E*".to_vec(),
        b"*@me*".to_vec(),
        b"inbound.discord.G1%2E5.*.*".to_vec(),
        // Unclosed classes and trailing backslashes.
        b"x[abc".to_vec(),
        b"x[".to_vec(),
        b"[^".to_vec(),
        b"a\\".to_vec(),
        b"a[\\".to_vec(),
        // Redis's nesting guard: 1000 nested `*` still match, 1001 never do.
        b"*a".repeat(1000),
        b"*a".repeat(1001),
        // A pathological pattern (CVE-2022-36021) that must simply finish.
        b"a*a*a*a*a*a*a*a*a*a*a*a*a*b".to_vec(),
    ];
    // Range bounds compare as C `char`; mixing ASCII and non-ASCII bounds depends on its
    // signedness, so only test that where it is signed, as on x86-64.
    if std::ffi::c_char::MIN != 0 {
        patterns.push(b"[\x01-\xff]".to_vec());
    }
    patterns
}

fn show(bytes: &[u8]) -> String {
    let shown = bytes.escape_ascii().to_string();
    if shown.len() > 60 {
        format!("{}...({} bytes)", &shown[..60], bytes.len())
    } else {
        shown
    }
}

fn bulk(value: &Value) -> Vec<u8> {
    match value {
        Value::BulkString(bytes) => bytes.clone(),
        Value::SimpleString(text) => text.clone().into_bytes(),
        other => panic!("expected a bulk string in a pmessage, got {other:?}"),
    }
}

/// What Redis did with every channel published to every pattern.
struct Deliveries {
    /// Every (pattern, channel) pair Redis delivered, sentinel excluded.
    delivered: BTreeSet<(Vec<u8>, Vec<u8>)>,
    /// Per channel, how many receivers PUBLISH reported.
    receivers: Vec<(Vec<u8>, usize)>,
}

/// PSUBSCRIBEs one connection to `patterns`, PUBLISHes each channel once, and collects
/// every pmessage Redis pushes until the sentinel arrives.
async fn deliveries(redis: &RedisServer, patterns: &[Vec<u8>], channels: &[Vec<u8>]) -> Deliveries {
    assert!(patterns.iter().any(|pattern| pattern == CATCH_ALL));
    let client = redis::Client::open(format!("{}?protocol=resp3", redis.url())).unwrap();
    let (push_sender, mut pushes) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(push_sender);
    let mut subscriber = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    // Returns once Redis confirmed every pattern, so nothing published below is missed.
    subscriber.psubscribe(patterns).await.unwrap();

    let mut publisher = redis.connection().await;
    let mut receivers = Vec::new();
    for channel in channels {
        let count: usize = publisher.publish(channel.as_slice(), "m").await.unwrap();
        receivers.push((channel.clone(), count));
    }
    let _: usize = publisher.publish(SENTINEL, "end").await.unwrap();

    let mut delivered = BTreeSet::new();
    loop {
        let push = tokio::time::timeout(PATIENCE, pushes.recv())
            .await
            .unwrap_or_else(|_| panic!("no sentinel within {PATIENCE:?}\n{}", redis.log()))
            .expect("push channel open");
        if push.kind != PushKind::PMessage {
            continue;
        }
        let [pattern, channel, _payload] = push.data.as_slice() else {
            panic!("malformed pmessage: {push:?}");
        };
        let (pattern, channel) = (bulk(pattern), bulk(channel));
        if channel == SENTINEL {
            if pattern == CATCH_ALL {
                break;
            }
            continue;
        }
        delivered.insert((pattern, channel));
    }
    Deliveries {
        delivered,
        receivers,
    }
}

/// Everything the linter, the docs and the routers say about patterns rests on the Rust
/// matcher answering exactly as Redis does, quirks included.
#[tokio::test]
async fn glob_matcher_agrees_with_redis_psubscribe() {
    let redis = RedisServer::start().await;
    let patterns = patterns();
    let channels: Vec<Vec<u8>> = topics().into_iter().chain(raw_channels()).collect();
    assert!(patterns.len() >= 25 && topics().len() >= 20);

    let Deliveries {
        delivered,
        receivers,
    } = deliveries(&redis, &patterns, &channels).await;

    let predicted: BTreeSet<(Vec<u8>, Vec<u8>)> = patterns
        .iter()
        .flat_map(|pattern| {
            channels
                .iter()
                .filter(|channel| glob_match(pattern, channel))
                .map(|channel| (pattern.clone(), channel.clone()))
        })
        .collect();
    let missed: Vec<String> = predicted
        .difference(&delivered)
        .map(|(pattern, channel)| format!("  {} ~ {}", show(pattern), show(channel)))
        .collect();
    let unexpected: Vec<String> = delivered
        .difference(&predicted)
        .map(|(pattern, channel)| format!("  {} ~ {}", show(pattern), show(channel)))
        .collect();
    assert!(
        missed.is_empty() && unexpected.is_empty(),
        "glob_match disagrees with Redis.\npredicted but not delivered:\n{}\ndelivered but not predicted:\n{}",
        missed.join("\n"),
        unexpected.join("\n"),
    );
    for (channel, count) in &receivers {
        let expected = patterns
            .iter()
            .filter(|pattern| glob_match(pattern, channel))
            .count();
        assert_eq!(*count, expected, "PUBLISH {} receivers", show(channel));
    }

    // The motivating trap, seen in real Redis: `G1*` receives guild G10 and crosses dots.
    let g10 = topic(
        Direction::Inbound,
        "discord",
        Space::id("G10"),
        "general",
        "alice",
    );
    assert!(delivered.contains(&(b"inbound.discord.G1*".to_vec(), g10.clone())));
    let whole_segment = b"inbound.discord.G1.*.*".to_vec();
    assert!(!delivered.contains(&(whole_segment, g10)));
    assert!(
        delivered
            .iter()
            .any(|(pattern, _)| pattern == &b"*a".repeat(1000)),
        "the nesting limit must not cut off 1000 `*`s"
    );
}

/// A lint error claims "this never matches a topic"; real Redis must bear that out, and
/// builder-made patterns must lint clean.
#[tokio::test]
async fn patterns_linted_as_errors_receive_no_topics_from_redis() {
    let redis = RedisServer::start().await;
    let patterns = patterns();
    let topics = topics();
    let Deliveries { delivered, .. } = deliveries(&redis, &patterns, &topics).await;

    let mut n_error_patterns = 0;
    for pattern in &patterns {
        let Ok(text) = std::str::from_utf8(pattern) else {
            continue;
        };
        let lints = lint(text);
        if !lints.iter().any(|lint| lint.severity == Severity::Error) {
            continue;
        }
        n_error_patterns += 1;
        let received: Vec<String> = delivered
            .iter()
            .filter(|(delivered_pattern, _)| delivered_pattern == pattern)
            .map(|(_, channel)| show(channel))
            .collect();
        assert!(
            received.is_empty(),
            "`{text}` was linted as never matching ({lints:?}) but Redis delivered {received:?}"
        );
    }
    assert!(
        n_error_patterns >= 5,
        "the table should hold error patterns"
    );

    // The topics themselves, as exact patterns, are clean and receive themselves.
    for topic in &topics {
        let text = std::str::from_utf8(topic).unwrap();
        assert_eq!(lint(text), Vec::new(), "{text}");
    }
    let g1 = built(
        Pattern::builder()
            .direction(Direction::Inbound)
            .platform("discord")
            .space(Space::id("G1")),
    );
    assert_eq!(lint(std::str::from_utf8(&g1).unwrap()), Vec::new());
}
