//! `chat`: a console gateway. Each line of stdin is an inbound message on the
//! `console` platform; replies are shown and answered with delivery receipts, and
//! lines typed while Redis is down are kept and sent when it is back.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, bail};
use bytebot_core::bus::RedisUrl;
use clap::Args;
use tokio::io::AsyncBufReadExt;

use crate::console::{Identity, IdentityArgs};
use crate::conversation::{Conversation, Published};

/// The connection name's role: `bytebot:router-tools-chat:<host>` (`doctor` lists
/// consoles by it).
pub const ROLE: &str = "router-tools-chat";

/// While something is kept during an outage, how often to try Redis again.
const RETRY: Duration = Duration::from_millis(250);

/// The flags of `router-tools chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// After the input ends (and what was kept during an outage is sent), the longest
    /// wait for replies.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Print each reply's round-trip time to stderr.
    #[arg(long)]
    pub latency: bool,
    /// Play a gateway that cannot deliver: every receipt reports this platform error
    /// code (Discord: 50013 Missing Permissions, 10003 Unknown Channel) and replies are
    /// shown as not delivered. To test a bot's receipt handling.
    #[arg(long, value_name = "CODE", allow_negative_numbers = true)]
    pub fail_with: Option<i64>,
}

/// Settings for [`run`].
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// Who is talking, and where.
    pub identity: Identity,
    /// After the input ends, the longest wait for replies still due.
    pub timeout: Duration,
    /// Once every message has a reply, how long to wait for more (a second reply, a
    /// second bot) before exiting.
    pub settle: Duration,
    /// Print each reply's round-trip time to stderr.
    pub latency: bool,
    /// Make every receipt a failure with this platform error code.
    pub fail_with: Option<i64>,
}

/// Runs the console gateway: each line of stdin is an inbound message; replies are
/// printed as they come. Ends at end of input (once what was kept is sent and the
/// replies are in, or `timeout` after that) or when `shutdown` resolves (Ctrl-C).
///
/// Returns `Ok(false)` when a line was not published: refused (over the size limit)
/// or still kept when Ctrl-C came.
pub async fn run(config: ChatConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<bool> {
    let mut conversation =
        Conversation::open(config.redis_url.clone(), ROLE, config.identity.clone()).await?;
    conversation.fail_with(config.fail_with);
    if std::io::stdin().is_terminal() {
        eprintln!(
            "chatting as {} on {} (replies from {}); try !help. Ctrl-D or Ctrl-C to quit.",
            config.identity.user,
            conversation.topic(),
            conversation.topic().reply(),
        );
    }
    let mut connected = conversation.connected();
    connected.borrow_and_update();
    let mut retry = tokio::time::interval(RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stdout = std::io::stdout();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let mut refused = 0usize;
    // Set once the input ended and nothing is kept: from then on, wait for replies.
    let mut deadline: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        if !input_open && deadline.is_none() && !conversation.has_kept() {
            deadline = Some(tokio::time::Instant::now() + config.timeout);
        }
        let quiet = tokio::time::sleep(config.settle);
        let give_up = tokio::time::sleep_until(
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)),
        );
        tokio::select! {
            () = &mut shutdown => {
                let kept = conversation.kept_lines();
                if kept > 0 {
                    eprintln!("{kept} line(s) were never sent: redis did not come back");
                }
                return Ok(refused == 0 && kept == 0);
            }
            line = lines.next_line(), if input_open => {
                match line.context("reading stdin")? {
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => match conversation.send_line(&line).await {
                        Ok(Published::Now { .. }) => {}
                        Ok(Published::Kept) => eprintln!(
                            "-- kept; {} line(s) waiting for redis",
                            conversation.kept_lines()
                        ),
                        Err(err) => {
                            refused += 1;
                            eprintln!("router-tools: {}", bytebot_logging::error_chain(&*err));
                        }
                    },
                    None => {
                        input_open = false;
                        let kept = conversation.kept_lines();
                        if kept > 0 {
                            eprintln!("-- end of input; {kept} line(s) wait for redis (Ctrl-C gives up)");
                        }
                    }
                }
            }
            changed = connected.changed() => {
                if changed.is_err() {
                    bail!("the reply subscription ended");
                }
                if *connected.borrow_and_update() {
                    conversation.resume().await;
                } else {
                    conversation.lost();
                }
            }
            _ = retry.tick(), if conversation.has_kept() => conversation.flush().await,
            () = give_up, if deadline.is_some() => break,
            () = quiet, if deadline.is_some() && conversation.all_answered() => break,
            delivery = conversation.recv_reply() => {
                let Some(delivery) = delivery else { bail!("the reply subscription ended") };
                conversation.show_reply(&delivery, &mut stdout, config.latency);
                conversation.flush().await;
            }
        }
    }
    let unanswered = conversation.unanswered();
    if unanswered > 0 {
        eprintln!(
            "no reply to {unanswered} message(s) within {:?} (not a command any subscriber knows?)",
            config.timeout
        );
    }
    Ok(refused == 0)
}
