//! The "any language" promise: the Python example, with redis-py only, answers `!ping`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bytebot_core::Topic;
use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{
    Author, InboundKind, InboundMessage, Interaction, OutboundAction, decode_outbound,
};
use bytebot_core::pattern::Pattern;
use bytebot_e2e::{
    Daemon, PATIENCE, received_by, router_tools, stderr, stdout, target_dir, workspace_root,
};
use bytebot_test_support::{RedisServer, bus_config};

/// A virtualenv with `examples/python/requirements.txt` installed, under the target
/// directory and reused while the requirements stay the same (PyPI is needed once).
pub(crate) fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements = workspace_root().join("examples/python/requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("reading requirements.txt");
        let venv = target_dir().join("e2e-python-venv");
        let python = venv.join("bin/python");
        let stamp = venv.join("bytebot-requirements.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
            && python.exists()
        {
            return python;
        }
        let created = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .output()
            .expect("running python3 (is it installed?)");
        assert!(
            created.status.success(),
            "python3 -m venv failed (on Debian: apt-get install python3-venv):\n{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements)
            .output()
            .expect("running pip");
        assert!(
            installed.status.success(),
            "pip install -r examples/python/requirements.txt failed:\n{}",
            String::from_utf8_lossy(&installed.stderr)
        );
        std::fs::write(&stamp, wanted).expect("writing the virtualenv stamp");
        python
    })
}

/// A subscriber in another language, written from the docs, talks to router-tools.
#[tokio::test]
async fn the_python_subscriber_answers_ping() {
    let python = python();
    let redis = RedisServer::start().await;
    let script = workspace_root().join("examples/python/ping_bot.py");
    let mut bot = Daemon::spawn(
        python,
        &["-u", script.to_str().unwrap()],
        &[("REDIS_URL", &redis.url())],
    );
    bot.wait_subscribed(&redis.url(), "python-ping-bot").await;

    let output = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert_eq!(
        stdout(&output),
        "pong\n",
        "{}\n{}",
        stderr(&output),
        bot.log()
    );
    let sent = router_tools(&redis.url(), &["send", "--wait", "!ping"], "").await;
    assert_eq!(stdout(&sent), received_by(1) + "pong\n", "{}", bot.log());

    // It skips what it cannot decode and ignores bots, like the Rust subscriber.
    router_tools(
        &redis.url(),
        &[
            "send",
            "--raw",
            "--topic",
            "inbound.console.local.terminal.x",
            "{oops",
        ],
        "",
    )
    .await;
    let from_bot = router_tools(&redis.url(), &["send", "--bot", "--wait=1", "!ping"], "").await;
    assert_eq!(stdout(&from_bot), received_by(1));
    let again = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert_eq!(stdout(&again), "pong\n", "{}", bot.log());
    assert!(
        bot.log()
            .contains("skipping an undecodable message on inbound.console.local.terminal.x"),
        "{}",
        bot.log()
    );

    // It answers new messages only: an edited `!ping` is not a second `!ping`.
    let mut replies = Subscription::start(
        bus_config(&redis.url(), "test"),
        vec![Pattern::parse_raw("outbound.*")],
        SubscribeOptions::default(),
    );
    replies.wait_connected(PATIENCE).await.unwrap();
    let topic: Topic = "inbound.console.local.terminal.x".parse().unwrap();
    let mut edited = InboundMessage::event(
        InboundKind::MessageEdited,
        topic.clone(),
        "m0",
        Author::new("x", "x"),
    );
    edited.content = "!ping".into();
    let ping = InboundMessage::new(topic.clone(), "m1", Author::new("x", "x"), "!ping");
    let mut connection = redis.connection().await;
    for message in [&edited, &ping] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(topic.to_string())
            .arg(message.encode())
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    let delivery = tokio::time::timeout(PATIENCE, replies.recv())
        .await
        .expect("a reply in time")
        .unwrap();
    let reply = decode_outbound(&delivery.payload).unwrap();
    assert_eq!(reply.in_reply_to, Some(ping.id), "{}", bot.log());

    // A Discord slash command, `/ping`: answered with `respond` by the envelope's id.
    let mut slash = InboundMessage::event(
        InboundKind::Interaction,
        topic.clone(),
        "i1",
        Author::new("x", "x"),
    );
    let mut details = Interaction::default();
    details.name = Some("ping".into());
    slash.interaction = Some(details);
    let _: i64 = redis::cmd("PUBLISH")
        .arg(topic.to_string())
        .arg(slash.encode())
        .query_async(&mut connection)
        .await
        .unwrap();
    let delivery = tokio::time::timeout(PATIENCE, replies.recv())
        .await
        .expect("an answer to the slash command in time")
        .unwrap();
    let respond = decode_outbound(&delivery.payload).unwrap();
    assert_eq!(respond.action, OutboundAction::Respond, "{}", bot.log());
    assert_eq!(respond.content, "pong");
    assert_eq!(respond.in_reply_to, Some(slash.id));

    let status = bot.terminate().await;
    assert!(status.success(), "{status:?}\n{}", bot.log());
}
