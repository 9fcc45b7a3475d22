//! The connection alone against ngircd: registration, joining, keys, nick collision,
//! reconnect and rejoin, flood pacing, splitting. No Redis involved.

use std::sync::Arc;
use std::time::Duration;

use bytebot_test_support::{IrcServer, PATIENCE};
use gateway_irc::config::{Backoff, IrcConfig, ServerAddr, parse_channels};
use gateway_irc::connection::{Connection, Event, Incoming, Status};
use gateway_irc::flood::FloodLimit;
use gateway_irc::split::{split_lines, text_budget};
use tokio::sync::mpsc;

/// A config for `server` with quick reconnects and a fast flood limit (tests only).
pub fn config(server: &IrcServer, nick: &str, channels: &str) -> IrcConfig {
    let mut config = IrcConfig::new(ServerAddr::parse(&server.addr()).unwrap(), nick);
    config.channels = parse_channels(channels).unwrap();
    config.backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_millis(500),
    };
    config.flood = FloodLimit {
        burst: 4,
        interval: Duration::from_millis(50),
    };
    config
}

/// A connection whose events arrive on the returned receiver.
pub fn connect(config: IrcConfig) -> (Connection, mpsc::UnboundedReceiver<Event>) {
    let (events_tx, events) = mpsc::unbounded_channel();
    let connection = Connection::start(
        config,
        Arc::new(move |event, _session| {
            let _ = events_tx.send(event);
        }),
    );
    (connection, events)
}

/// Waits until the connection is registered and in every configured channel.
pub async fn wait_ready(connection: &Connection) -> Status {
    let mut status = connection.status();
    let ready =
        tokio::time::timeout(PATIENCE, status.wait_for(|status| status.ready().is_ok())).await;
    match ready {
        Ok(Ok(status)) => status.clone(),
        _ => panic!("not ready: {:?}", connection.status().borrow().ready()),
    }
}

/// The next published message (events that are not messages are skipped).
pub async fn next_message(events: &mut mpsc::UnboundedReceiver<Event>) -> Incoming {
    loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Some(Event::Message(message))) => return message,
            Ok(Some(Event::Ignored(_))) => continue,
            _ => panic!("no message within {PATIENCE:?}"),
        }
    }
}

/// Registration, join, one message each way: the base every other test builds on.
#[tokio::test]
async fn registers_joins_and_talks_both_ways() {
    let server = IrcServer::start().await;
    let (connection, mut events) = connect(config(&server, "bytebot", "#test"));
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    wait_ready(&connection).await;

    alice.privmsg("#test", "hello bot").await;
    let message = next_message(&mut events).await;
    assert_eq!(message.channel.as_deref(), Some("#test"));
    assert_eq!(
        (message.nick.as_str(), message.text.as_str()),
        ("alice", "hello bot")
    );

    connection
        .send("#test", &["hello alice".to_owned()])
        .await
        .unwrap();
    let (target, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!((target.as_str(), text.as_str()), ("#test", "hello alice"));
    connection.quit("bye").await;
}

/// 433: the nick is taken, so the gateway registers with an alternate.
#[tokio::test]
async fn a_taken_nick_gets_an_alternate() {
    let server = IrcServer::start().await;
    let _squatter = server.client("bytebot").await;
    let (connection, _events) = connect(config(&server, "bytebot", "#test"));
    let status = wait_ready(&connection).await;
    assert_eq!(status.session.nick, "bytebot_");
    connection.quit("bye").await;
}

/// A channel with a key (+k) is joined with the configured key.
#[tokio::test]
async fn a_keyed_channel_is_joined_with_its_key() {
    let server = IrcServer::start().await;
    let mut owner = server.client("owner").await;
    owner.join("#vault", None).await;
    owner.send("MODE #vault +k s3cret").await;
    owner.expect(|line| line.command == "MODE").await;
    let (connection, _events) = connect(config(&server, "bytebot", "#vault:s3cret"));
    let status = wait_ready(&connection).await;
    assert!(status.session.in_channel("#vault"));
    connection.quit("bye").await;
}

/// ngircd restarts: the gateway reconnects, rejoins, and messages flow again.
#[tokio::test]
async fn reconnects_and_rejoins_after_a_server_restart() {
    let server = IrcServer::start().await;
    let (connection, mut events) = connect(config(&server, "bytebot", "#test"));
    wait_ready(&connection).await;
    server.restart().await;
    let mut status = connection.status();
    tokio::time::timeout(PATIENCE, status.wait_for(|status| !status.registered))
        .await
        .expect("the drop is noticed")
        .unwrap();
    wait_ready(&connection).await;
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    alice.privmsg("#test", "are you back?").await;
    assert_eq!(next_message(&mut events).await.text, "are you back?");
    connection.quit("bye").await;
}

/// An oper KILLs the bot: it reconnects and rejoins.
#[tokio::test]
async fn reconnects_and_rejoins_after_a_kill() {
    let server = IrcServer::start().await;
    let (connection, mut events) = connect(config(&server, "bytebot", "#test"));
    wait_ready(&connection).await;
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    server.kill("bytebot", "testing").await;
    // Back in the channel: alice sees the JOIN.
    alice
        .expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    wait_ready(&connection).await;
    alice.privmsg("#test", "welcome back").await;
    assert_eq!(next_message(&mut events).await.text, "welcome back");
    connection.quit("bye").await;
}

/// Kicked, the bot rejoins (the default).
#[tokio::test]
async fn rejoins_after_a_kick() {
    let server = IrcServer::start().await;
    let mut op = server.client("op").await;
    op.join("#test", None).await; // first in: channel operator
    let (connection, _events) = connect(config(&server, "bytebot", "#test"));
    wait_ready(&connection).await;
    op.expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    op.send("KICK #test bytebot :out").await;
    op.expect(|line| line.command == "KICK").await;
    op.expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    connection.quit("bye").await;
}

/// 50 lines queued at once all arrive, in order, and ngircd does not disconnect the bot.
#[tokio::test]
async fn fifty_lines_arrive_in_order_without_a_flood_disconnect() {
    let server = IrcServer::start().await;
    let (connection, _events) = connect(config(&server, "bytebot", "#test"));
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    wait_ready(&connection).await;
    let lines: Vec<String> = (0..50).map(|n| format!("line {n}")).collect();
    connection.send("#test", &lines).await.unwrap();
    for expected in &lines {
        let (_, text) = alice.expect_privmsg_from("bytebot").await;
        assert_eq!(&text, expected);
    }
    assert!(connection.status().borrow().registered, "still connected");
    connection.quit("bye").await;
}

/// A 2 000-character reply becomes lines that each fit 512 bytes as relayed, and the
/// lines joined give the original back.
#[tokio::test]
async fn long_text_is_split_into_lines_that_fit_512_bytes() {
    let server = IrcServer::start().await;
    let (connection, _events) = connect(config(&server, "bytebot", "#test"));
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    let status = wait_ready(&connection).await;
    let original: String = (0..400)
        .map(|n| format!("wörd{n:03}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(original.chars().count() >= 2000);
    let budget = text_budget(
        &status.session.nick,
        status.session.source.as_deref(),
        "#test",
    );
    let lines = split_lines(&original, budget);
    connection.send("#test", &lines).await.unwrap();
    let mut received = Vec::new();
    while received.len() < lines.len() {
        let line = alice
            .expect(|line| line.command == "PRIVMSG" && line.nick() == Some("bytebot"))
            .await;
        assert!(
            line.raw.len() + 2 <= 512,
            "{} bytes: {}",
            line.raw.len() + 2,
            line.raw
        );
        received.push(line.params[1].clone());
    }
    assert_eq!(received.join(" "), original);
    connection.quit("bye").await;
}

/// With `rejoin_on_kick` off, a kicked bot stays out, and `/readyz` says where it is
/// missing.
#[tokio::test]
async fn a_kicked_bot_stays_out_when_rejoin_is_off() {
    let server = IrcServer::start().await;
    let mut op = server.client("op").await;
    op.join("#test", None).await;
    let mut config = config(&server, "bytebot", "#test");
    config.rejoin_on_kick = false;
    let (connection, _events) = connect(config);
    wait_ready(&connection).await;
    op.expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    op.send("KICK #test bytebot :out").await;
    op.expect(|line| line.command == "KICK").await;
    let rejoins = op
        .collect_for(Duration::from_secs(1), |line| {
            line.command == "JOIN" && line.nick() == Some("bytebot")
        })
        .await;
    assert!(rejoins.is_empty(), "rejoined: {rejoins:?}");
    assert_eq!(
        connection.status().borrow().ready(),
        Err("not in #test".to_owned())
    );
    connection.quit("bye").await;
}

/// An INVITE is followed only when `join_on_invite` is on (by default it is not).
#[tokio::test]
async fn invites_are_followed_only_when_configured() {
    let server = IrcServer::start().await;
    let mut op = server.client("op").await;
    op.join("#private", None).await;
    op.send("MODE #private +i").await;
    op.expect(|line| line.command == "MODE").await;
    let (stays, _events) = connect(config(&server, "stays", "#test"));
    let mut follows = config(&server, "follows", "#test");
    follows.join_on_invite = true;
    let (follows, _follow_events) = connect(follows);
    wait_ready(&stays).await;
    wait_ready(&follows).await;
    op.send("INVITE stays #private").await;
    op.send("INVITE follows #private").await;
    op.expect(|line| line.command == "JOIN" && line.nick() == Some("follows"))
        .await;
    let joined = op
        .collect_for(Duration::from_secs(1), |line| {
            line.command == "JOIN" && line.nick() == Some("stays")
        })
        .await;
    assert!(joined.is_empty(), "joined uninvited: {joined:?}");
    assert!(follows.status().borrow().session.in_channel("#private"));
    assert!(!stays.status().borrow().session.in_channel("#private"));
    stays.quit("bye").await;
    follows.quit("bye").await;
}

/// The server PINGs an idle connection and drops it without a PONG (ngircd: after 5 s,
/// then 5 s more): the bot answers, so it stays registered through 15 s of silence.
#[tokio::test]
async fn the_servers_pings_are_answered() {
    let server = IrcServer::builder().ping_timeout(5).start().await;
    let (connection, mut events) = connect(config(&server, "bytebot", "#test"));
    wait_ready(&connection).await;
    let mut status = connection.status();
    let dropped = tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|status| !status.registered),
    )
    .await;
    assert!(
        dropped.is_err(),
        "the connection dropped while idle:\n{}",
        server.log()
    );
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    alice.privmsg("#test", "still there?").await;
    assert_eq!(next_message(&mut events).await.text, "still there?");
    connection.quit("bye").await;
}

/// Every PRIVMSG goes through the flood gate: after a burst of 2, one line per second,
/// so the fifth line leaves at least 3 s after the first. (ngircd alone would relay them
/// faster: it paces a client to about 2 lines a second but never disconnects it, so
/// this bound, not a disconnect, is what shows the gate at work.)
#[tokio::test]
async fn lines_leave_no_faster_than_the_flood_limit() {
    let server = IrcServer::start().await;
    let mut config = config(&server, "bytebot", "#test");
    config.flood = FloodLimit {
        burst: 2,
        interval: Duration::from_secs(1),
    };
    let (connection, _events) = connect(config);
    let mut alice = server.client("alice").await;
    alice.join("#test", None).await;
    wait_ready(&connection).await;
    let lines: Vec<String> = (0..5).map(|n| format!("paced {n}")).collect();
    let receive = async {
        let mut arrivals = Vec::new();
        for expected in &lines {
            let (_, text) = alice.expect_privmsg_from("bytebot").await;
            assert_eq!(&text, expected);
            arrivals.push(std::time::Instant::now());
        }
        arrivals
    };
    let (sent, arrivals) = tokio::join!(connection.send("#test", &lines), receive);
    sent.unwrap();
    let spread = arrivals[4] - arrivals[0];
    // Lines 0 and 1 leave at once, line 4 three intervals later; the slack covers the
    // first line's own trip.
    assert!(
        spread >= Duration::from_millis(2800),
        "5 lines within {spread:?}"
    );
    connection.quit("bye").await;
}
