//! The connection to one IRC server, kept alive by one task: registration (PASS, SASL
//! PLAIN, NICK with alternates on 433, USER), joining the configured channels (with
//! keys), PING/PONG and a keepalive of our own, reconnecting with a capped backoff and
//! rejoining after a server restart, a KILL or a KICK.
//!
//! [`Connection`] is the handle: it reports the connection's [`Status`] (for
//! `/readyz`), sends PRIVMSGs through the flood gate, and quits. Inbound messages reach
//! the [`EventSink`] the task was started with.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use irc_proto::{CapSubCommand, Command, Message, Prefix, Response};
use secrecy::ExposeSecret as _;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::config::{ChannelSpec, IrcConfig};
use crate::flood::FloodGate;
use crate::session::Session;
use crate::wire::{self, Io, LineCodec};

/// How long registration may take before the attempt is abandoned.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long QUIT waits for the server to close the connection.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`Connection::send`] waits for the connection (and a configured channel)
/// to be back before it fails.
const SEND_WAIT: Duration = Duration::from_secs(30);
/// The most bytes of channel names in one JOIN line (well under 512 with keys).
const JOIN_LINE_BUDGET: usize = 300;

/// Something the server told us that the gateway may publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A PRIVMSG to a channel we are in or to us, not from us.
    Message(Incoming),
    /// A message that is never published: a NOTICE (IRC's rule: never answer one), a
    /// CTCP request other than ACTION, or our own message echoed back.
    Ignored(&'static str),
}

/// One chat message from IRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The sender's nick.
    pub nick: String,
    /// The sender's full source, `nick!user@host`.
    pub source: String,
    /// The channel, as the server spelled it; `None` for a private message to us.
    pub channel: Option<String>,
    /// The text (for an ACTION, without the CTCP framing).
    pub text: String,
    /// A CTCP ACTION (`/me waves`).
    pub action: bool,
}

/// Where inbound events go; called on the connection's task, so it must not block.
pub type EventSink = Arc<dyn Fn(Event, &Session) + Send + Sync>;

/// The connection as `/readyz` and senders see it.
#[derive(Debug, Clone)]
pub struct Status {
    /// Registered (001 received) on a live connection.
    pub registered: bool,
    /// The server's rules and our nick, source and channels.
    pub session: Session,
    /// The configured channels, folded under the server's case mapping once known.
    pub wanted: Vec<String>,
    /// The connection task has ended (after [`Connection::quit`]).
    pub closed: bool,
}

impl Status {
    /// `Ok` when registered and in every configured channel, else why not.
    pub fn ready(&self) -> Result<(), String> {
        if self.closed {
            return Err("closed".to_owned());
        }
        if !self.registered {
            return Err("not registered with the server (connecting)".to_owned());
        }
        let missing: Vec<&str> = self
            .wanted
            .iter()
            .filter(|channel| !self.session.in_channel(channel))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("not in {}", missing.join(", ")))
        }
    }
}

/// Why [`Connection::send`] did not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Not registered with the server (reconnecting) within the wait.
    #[error("not connected to the IRC server (reconnecting)")]
    NotConnected,
    /// A configured channel we are not (yet) back in.
    #[error("not in channel {0} (rejoining)")]
    NotInChannel(String),
    /// The connection dropped before the line was written; `sent` lines went out.
    #[error("the IRC connection dropped after {sent} line(s) of this message")]
    ConnectionLost {
        /// Lines of the message that were written before the drop.
        sent: usize,
    },
    /// The gateway is shutting down.
    #[error("the IRC connection is closed")]
    Closed,
}

struct Outgoing {
    line: String,
    written: oneshot::Sender<()>,
}

/// The handle to the connection task.
pub struct Connection {
    status: watch::Receiver<Status>,
    outgoing: mpsc::Sender<Outgoing>,
    flood: FloodGate,
    quit: watch::Sender<Option<String>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts the connection task; it connects, registers, joins and keeps doing so
    /// until [`Connection::quit`].
    pub fn start(config: IrcConfig, events: EventSink) -> Connection {
        let session = Session::new(&config.nick);
        let wanted = config
            .channels
            .iter()
            .map(|channel| session.fold(&channel.name))
            .collect();
        let (status_tx, status) = watch::channel(Status {
            registered: false,
            session,
            wanted,
            closed: false,
        });
        let (outgoing, outgoing_rx) = mpsc::channel(16);
        let (quit, quit_rx) = watch::channel(None);
        let flood = FloodGate::new(config.flood);
        let actor = Actor {
            config,
            events,
            status: status_tx,
            outgoing: outgoing_rx,
            quit: quit_rx,
        };
        let task = tokio::spawn(actor.run());
        Connection {
            status,
            outgoing,
            flood,
            quit,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// A receiver of the connection's status (it changes on connect, join, part...).
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Sends `lines` (each already within the byte budget, see [`crate::split`]) to
    /// `target` as PRIVMSGs, in order, each through the flood gate. Waits (up to 30 s)
    /// for the connection, and for a configured channel to be rejoined, first.
    /// `Ok` means every line was written to the server: IRC acknowledges nothing.
    pub async fn send(&self, target: &str, lines: &[String]) -> Result<(), SendError> {
        self.wait_until_sendable(target).await?;
        for (sent, text) in lines.iter().enumerate() {
            self.flood.acquire().await;
            let (written, done) = oneshot::channel();
            let line = String::from(&Command::PRIVMSG(target.to_owned(), text.clone()));
            self.outgoing
                .send(Outgoing { line, written })
                .await
                .map_err(|_| SendError::Closed)?;
            done.await.map_err(|_| SendError::ConnectionLost { sent })?;
        }
        Ok(())
    }

    async fn wait_until_sendable(&self, target: &str) -> Result<(), SendError> {
        let mut status = self.status.clone();
        let sendable = |status: &Status| {
            if status.closed || !status.registered {
                return status.closed;
            }
            let folded = status.session.fold(target);
            !status.wanted.contains(&folded) || status.session.in_channel(target)
        };
        let outcome = match tokio::time::timeout(SEND_WAIT, status.wait_for(sendable)).await {
            Ok(Ok(status)) => Some(!status.closed),
            Ok(Err(_)) => Some(false),
            Err(_) => None,
        };
        match outcome {
            Some(true) => Ok(()),
            Some(false) => Err(SendError::Closed),
            None if status.borrow().registered => Err(SendError::NotInChannel(target.to_owned())),
            None => Err(SendError::NotConnected),
        }
    }

    /// Sends QUIT with `reason`, waits (briefly) for the server to close, and ends the
    /// connection task. Later sends fail with [`SendError::Closed`].
    pub async fn quit(&self, reason: &str) {
        let _ = self.quit.send(Some(reason.to_owned()));
        let task = self.task.lock().await.take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// How one connection attempt ended.
enum End {
    /// We quit on purpose.
    Quit,
    /// The connection was lost or refused; try again after the backoff.
    Lost(String),
}

/// The task behind [`Connection`].
struct Actor {
    config: IrcConfig,
    events: EventSink,
    status: watch::Sender<Status>,
    outgoing: mpsc::Receiver<Outgoing>,
    quit: watch::Receiver<Option<String>>,
}

impl Actor {
    async fn run(mut self) {
        let mut backoff = self.config.backoff.min;
        loop {
            if self.quit.borrow().is_some() {
                break;
            }
            let server = &self.config.server;
            tracing::info!(%server, tls = self.config.tls, "connecting to the IRC server");
            let connecting =
                tokio::time::timeout(REGISTRATION_TIMEOUT, wire::connect(&self.config));
            let (end, registered) = match connecting.await {
                Ok(Ok(io)) => self.session(io).await,
                Ok(Err(err)) => (End::Lost(format!("connecting to {server}: {err}")), false),
                Err(_) => (
                    End::Lost(format!("connecting to {server}: timed out")),
                    false,
                ),
            };
            self.status.send_modify(|status| {
                status.registered = false;
                status.session.joined.clear();
            });
            // Lines queued for the lost connection fail now (their receipts say so),
            // rather than going out on the next one to channels not yet rejoined.
            while self.outgoing.try_recv().is_ok() {}
            match end {
                End::Quit => break,
                End::Lost(reason) => {
                    if registered {
                        backoff = self.config.backoff.min;
                    }
                    tracing::warn!(reason = %reason, retry_in = ?backoff, "IRC connection lost");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = self.quit.changed() => break,
            }
            backoff = (backoff * 2).min(self.config.backoff.max);
        }
        self.status.send_modify(|status| {
            status.closed = true;
            status.registered = false;
        });
        tracing::info!("IRC connection closed");
    }

    /// One connection, from registration to its end; also whether it registered.
    async fn session(&mut self, io: Box<dyn Io>) -> (End, bool) {
        let mut live = Live {
            framed: Framed::new(io, LineCodec::default()),
            session: Session::new(&self.config.nick),
            nick_attempt: 0,
            registered: false,
        };
        let end = match self.drive(&mut live).await {
            Ok(()) => End::Quit,
            Err(end) => end,
        };
        (end, live.registered)
    }

    async fn drive(&mut self, live: &mut Live) -> Result<(), End> {
        self.register(live).await?;
        let registration_deadline = Instant::now() + REGISTRATION_TIMEOUT;
        let keepalive = self.config.keepalive;
        let mut last_read = Instant::now();
        let mut ping_outstanding = false;
        loop {
            let silence_deadline = if ping_outstanding {
                last_read + keepalive * 2
            } else {
                last_read + keepalive
            };
            tokio::select! {
                line = live.framed.next() => match line {
                    Some(Ok(line)) => {
                        last_read = Instant::now();
                        ping_outstanding = false;
                        self.on_line(live, &line).await?;
                    }
                    Some(Err(err)) => return Err(End::Lost(format!("reading from the server: {err}"))),
                    None => return Err(End::Lost("the server closed the connection".to_owned())),
                },
                Some(outgoing) = self.outgoing.recv(), if live.registered => {
                    live.write(outgoing.line).await?;
                    let _ = outgoing.written.send(());
                }
                () = tokio::time::sleep_until(silence_deadline) => {
                    if ping_outstanding {
                        return Err(End::Lost(format!("no answer from the server for {:?}", keepalive * 2)));
                    }
                    ping_outstanding = true;
                    live.write(String::from(&Command::PING("keepalive".to_owned(), None))).await?;
                }
                () = tokio::time::sleep_until(registration_deadline), if !live.registered => {
                    return Err(End::Lost("the server did not complete registration".to_owned()));
                }
                _ = self.quit.changed() => {
                    let reason = self.quit.borrow().clone().unwrap_or_default();
                    return live.quit(&reason).await;
                }
            }
        }
    }

    /// CAP (for SASL), PASS, NICK, USER.
    async fn register(&self, live: &mut Live) -> Result<(), End> {
        if self.config.sasl.is_some() {
            live.write("CAP REQ :sasl".to_owned()).await?;
        }
        if let Some(password) = &self.config.password {
            live.write(String::from(&Command::PASS(
                password.expose_secret().to_owned(),
            )))
            .await?;
        }
        live.write(String::from(&Command::NICK(self.config.nick.clone())))
            .await?;
        live.write(String::from(&Command::USER(
            self.config.username.clone(),
            "0".to_owned(),
            self.config.realname.clone(),
        )))
        .await
    }

    async fn on_line(&mut self, live: &mut Live, line: &str) -> Result<(), End> {
        tracing::trace!(line = %wire::redact(line), "<-");
        let message: Message = match line.parse() {
            Ok(message) => message,
            Err(err) => {
                tracing::debug!(error = %err, line, "skipping a line that is not an IRC message");
                return Ok(());
            }
        };
        let source_nick = message.source_nickname().map(str::to_owned);
        let source = match &message.prefix {
            Some(Prefix::Nickname(nick, user, host)) => format!("{nick}!{user}@{host}"),
            Some(Prefix::ServerName(name)) => name.clone(),
            None => String::new(),
        };
        let from_me = source_nick
            .as_deref()
            .is_some_and(|nick| live.session.is_me(nick));
        match message.command {
            Command::PING(token, _) => {
                live.write(String::from(&Command::PONG(token, None)))
                    .await?;
            }
            Command::ERROR(reason) => {
                return Err(End::Lost(format!("the server closed the link: {reason}")));
            }
            Command::CAP(_, CapSubCommand::ACK, first, second) => {
                let acked = [first, second].into_iter().flatten().any(|caps| {
                    caps.split_whitespace()
                        .any(|cap| cap.eq_ignore_ascii_case("sasl"))
                });
                if acked {
                    live.write("AUTHENTICATE PLAIN".to_owned()).await?;
                }
            }
            Command::CAP(_, CapSubCommand::NAK, ..) => {
                return Err(End::Lost(
                    "the server does not offer SASL, which IRC_SASL_USER asks for".to_owned(),
                ));
            }
            Command::AUTHENTICATE(challenge) if challenge == "+" => {
                if let Some(sasl) = &self.config.sasl {
                    for chunk in sasl_plain_chunks(&sasl.user, sasl.password.expose_secret()) {
                        live.write(format!("AUTHENTICATE {chunk}")).await?;
                    }
                }
            }
            Command::Response(response, args) => self.on_response(live, response, args).await?,
            Command::JOIN(channels, ..) if from_me => {
                for channel in channels.split(',') {
                    tracing::info!(channel, "joined");
                    let folded = live.session.fold(channel);
                    live.session.joined.insert(folded, channel.to_owned());
                }
                live.session.source = Some(source);
                self.publish_status(live);
            }
            Command::PART(channels, _) if from_me => {
                for channel in channels.split(',') {
                    let folded = live.session.fold(channel);
                    live.session.joined.remove(&folded);
                }
                self.publish_status(live);
            }
            Command::KICK(channel, victim, reason) if live.session.is_me(&victim) => {
                let folded = live.session.fold(&channel);
                live.session.joined.remove(&folded);
                self.publish_status(live);
                tracing::warn!(%channel, by = source_nick.as_deref().unwrap_or("?"), reason = reason.as_deref().unwrap_or(""), rejoin = self.config.rejoin_on_kick, "kicked from a channel");
                if self.config.rejoin_on_kick {
                    let spec = self.channel_spec(&live.session, &channel);
                    live.join(&[spec]).await?;
                }
            }
            Command::INVITE(_, channel) => {
                tracing::info!(%channel, by = source_nick.as_deref().unwrap_or("?"), join = self.config.join_on_invite, "invited to a channel");
                if self.config.join_on_invite {
                    let spec = self.channel_spec(&live.session, &channel);
                    live.join(&[spec]).await?;
                }
            }
            Command::NICK(new_nick) if from_me => {
                tracing::info!(nick = %new_nick, "our nick changed");
                live.session.nick = new_nick;
                self.publish_status(live);
            }
            Command::PRIVMSG(target, text) => {
                let event = if from_me {
                    Event::Ignored("own_message")
                } else {
                    match privmsg_event(&live.session, source_nick, source, target, text) {
                        Some(event) => event,
                        None => return Ok(()),
                    }
                };
                (self.events)(event, &live.session);
            }
            Command::NOTICE(..) if live.registered && source_nick.is_some() => {
                (self.events)(Event::Ignored("notice"), &live.session);
            }
            _ => {}
        }
        Ok(())
    }

    async fn on_response(
        &mut self,
        live: &mut Live,
        response: Response,
        args: Vec<String>,
    ) -> Result<(), End> {
        match response {
            Response::RPL_WELCOME => {
                live.registered = true;
                if let Some(nick) = args.first() {
                    live.session.nick = nick.clone();
                }
                tracing::info!(nick = %live.session.nick, "registered with the IRC server");
                self.publish_status(live);
                let channels = self.config.channels.clone();
                live.join(&channels).await?;
            }
            Response::RPL_ISUPPORT => {
                // 005 <nick> TOKEN TOKEN ... :are supported by this server
                let tokens = args.iter().skip(1).take(args.len().saturating_sub(2));
                live.session.apply_isupport(tokens.map(String::as_str));
                self.publish_status(live);
            }
            Response::ERR_NICKNAMEINUSE
            | Response::ERR_NICKCOLLISION
            | Response::ERR_UNAVAILRESOURCE
                if !live.registered =>
            {
                live.nick_attempt += 1;
                let nick = self.config.nick_attempt(live.nick_attempt);
                tracing::warn!(taken = args.get(1).map(String::as_str).unwrap_or("?"), trying = %nick, "nick in use");
                live.session.nick = nick.clone();
                live.write(String::from(&Command::NICK(nick))).await?;
            }
            Response::ERR_ERRONEOUSNICKNAME if !live.registered => {
                return Err(End::Lost(format!(
                    "the server refuses the nick {:?} (432): set IRC_NICK to a valid nick",
                    args.get(1)
                        .map(String::as_str)
                        .unwrap_or(&live.session.nick)
                )));
            }
            Response::ERR_PASSWDMISMATCH => {
                return Err(End::Lost(
                    "the server refused the password (464): check IRC_PASSWORD".to_owned(),
                ));
            }
            Response::RPL_SASLSUCCESS => {
                tracing::info!("SASL login succeeded");
                live.write("CAP END".to_owned()).await?;
            }
            Response::ERR_SASLFAIL
            | Response::ERR_SASLTOOLONG
            | Response::ERR_SASLABORT
            | Response::ERR_NICKLOCKED => {
                return Err(End::Lost(format!(
                    "SASL login failed ({}): check IRC_SASL_USER and IRC_SASL_PASSWORD",
                    response as u16
                )));
            }
            Response::ERR_BADCHANNELKEY
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN
            | Response::ERR_CHANNELISFULL
            | Response::ERR_NOSUCHCHANNEL
            | Response::ERR_TOOMANYCHANNELS => {
                // Never the key: only the channel and the server's words.
                tracing::warn!(
                    channel = args.get(1).map(String::as_str).unwrap_or("?"),
                    code = response as u16,
                    reason = args.last().map(String::as_str).unwrap_or(""),
                    "cannot join channel"
                );
            }
            Response::ERR_CANNOTSENDTOCHAN | Response::ERR_NOSUCHNICK => {
                tracing::warn!(
                    target = args.get(1).map(String::as_str).unwrap_or("?"),
                    code = response as u16,
                    reason = args.last().map(String::as_str).unwrap_or(""),
                    "the server refused a message"
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// The configured key of `channel`, if it is one of ours.
    fn channel_spec(&self, session: &Session, channel: &str) -> ChannelSpec {
        let folded = session.fold(channel);
        self.config
            .channels
            .iter()
            .find(|spec| session.fold(&spec.name) == folded)
            .cloned()
            .unwrap_or_else(|| ChannelSpec {
                name: channel.to_owned(),
                key: None,
            })
    }

    fn publish_status(&self, live: &Live) {
        let wanted = self
            .config
            .channels
            .iter()
            .map(|channel| live.session.fold(&channel.name))
            .collect();
        self.status.send_modify(|status| {
            status.registered = live.registered;
            status.session = live.session.clone();
            status.wanted = wanted;
        });
    }
}

/// The event for a PRIVMSG not from us; `None` when it cannot be one (no source).
fn privmsg_event(
    session: &Session,
    nick: Option<String>,
    source: String,
    target: String,
    text: String,
) -> Option<Event> {
    let nick = nick?;
    let channel = session.is_channel(&target).then_some(target);
    let (text, action) = match text.strip_prefix('\u{1}') {
        None => (text, false),
        Some(ctcp) => {
            let ctcp = ctcp.strip_suffix('\u{1}').unwrap_or(ctcp);
            match ctcp.strip_prefix("ACTION") {
                Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
                    (rest.trim_start_matches(' ').to_owned(), true)
                }
                _ => return Some(Event::Ignored("ctcp")),
            }
        }
    };
    Some(Event::Message(Incoming {
        nick,
        source,
        channel,
        text,
        action,
    }))
}

/// `AUTHENTICATE` payloads for SASL PLAIN (`authzid \0 authcid \0 password`, base64),
/// in 400-byte chunks; a final `+` when the last chunk is exactly 400 bytes.
fn sasl_plain_chunks(user: &str, password: &str) -> Vec<String> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}\0{user}\0{password}"));
    let mut chunks: Vec<String> = encoded
        .as_bytes()
        .chunks(400)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    if chunks.last().is_none_or(|chunk| chunk.len() == 400) {
        chunks.push("+".to_owned());
    }
    chunks
}

/// One live connection's state.
struct Live {
    framed: Framed<Box<dyn Io>, LineCodec>,
    session: Session,
    nick_attempt: u32,
    registered: bool,
}

impl Live {
    async fn write(&mut self, line: String) -> Result<(), End> {
        tracing::trace!(line = %wire::redact(&line), "->");
        self.framed
            .send(line)
            .await
            .map_err(|err| End::Lost(format!("writing to the server: {err}")))
    }

    /// JOINs `channels`, several per line, keyed ones first (a JOIN's keys pair up
    /// with its first channels).
    async fn join(&mut self, channels: &[ChannelSpec]) -> Result<(), End> {
        let mut ordered: Vec<&ChannelSpec> = channels.iter().collect();
        ordered.sort_by_key(|spec| spec.key.is_none());
        let mut batch: Vec<&ChannelSpec> = Vec::new();
        let mut batch_len = 0;
        for spec in ordered {
            if !batch.is_empty() && batch_len + spec.name.len() > JOIN_LINE_BUDGET {
                self.write(join_line(&batch)).await?;
                batch.clear();
                batch_len = 0;
            }
            batch_len += spec.name.len() + 1;
            batch.push(spec);
        }
        if !batch.is_empty() {
            self.write(join_line(&batch)).await?;
        }
        Ok(())
    }

    async fn quit(&mut self, reason: &str) -> Result<(), End> {
        self.write(String::from(&Command::QUIT(Some(reason.to_owned()))))
            .await?;
        // The server answers with ERROR and closes; wait for that, briefly.
        let _ = tokio::time::timeout(QUIT_TIMEOUT, async {
            while let Some(Ok(_)) = self.framed.next().await {}
        })
        .await;
        Ok(())
    }
}

fn join_line(batch: &[&ChannelSpec]) -> String {
    let names: Vec<&str> = batch.iter().map(|spec| spec.name.as_str()).collect();
    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|spec| spec.key.as_ref().map(|key| key.expose_secret()))
        .collect();
    if keys.is_empty() {
        format!("JOIN {}", names.join(","))
    } else {
        format!("JOIN {} {}", names.join(","), keys.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn actions_are_flagged_and_other_ctcp_is_ignored() {
        let session = Session::new("bot");
        let event = |text: &str| {
            privmsg_event(
                &session,
                Some("al".into()),
                "al!a@h".into(),
                "#c".into(),
                text.into(),
            )
        };
        let Some(Event::Message(message)) = event("\u{1}ACTION waves\u{1}") else {
            panic!("an action is a message");
        };
        assert!(message.action);
        assert_eq!(message.text, "waves");
        assert_eq!(message.channel.as_deref(), Some("#c"));
        assert_eq!(event("\u{1}VERSION\u{1}"), Some(Event::Ignored("ctcp")));
        let Some(Event::Message(plain)) = event("!ping") else {
            panic!("a plain message");
        };
        assert!(!plain.action);
    }

    #[test]
    fn private_messages_have_no_channel() {
        let session = Session::new("bot");
        let Some(Event::Message(message)) = privmsg_event(
            &session,
            Some("al".into()),
            "al!a@h".into(),
            "bot".into(),
            "hi".into(),
        ) else {
            panic!("a message");
        };
        assert_eq!(message.channel, None);
    }

    #[test]
    fn sasl_plain_is_base64_of_user_user_password() {
        let chunks = sasl_plain_chunks("bot", "hunter2");
        assert_eq!(chunks, vec!["Ym90AGJvdABodW50ZXIy"]);
        let long = sasl_plain_chunks("u", &"p".repeat(600));
        assert!(long.iter().all(|chunk| chunk.len() <= 400));
        assert!(long.len() >= 2);
    }

    #[test]
    fn join_lines_put_keyed_channels_first_and_keys_after_names() {
        let keyed = ChannelSpec {
            name: "#secret".into(),
            key: Some(SecretString::from("k1")),
        };
        let open = ChannelSpec {
            name: "#open".into(),
            key: None,
        };
        assert_eq!(join_line(&[&keyed, &open]), "JOIN #secret,#open k1");
        assert_eq!(join_line(&[&open]), "JOIN #open");
    }

    #[test]
    fn readiness_needs_registration_and_every_configured_channel() {
        let mut session = Session::new("bot");
        let mut status = Status {
            registered: false,
            session: session.clone(),
            wanted: vec!["#a".into()],
            closed: false,
        };
        assert!(status.ready().unwrap_err().contains("not registered"));
        status.registered = true;
        assert_eq!(status.ready().unwrap_err(), "not in #a");
        session.joined.insert("#a".into(), "#A".into());
        status.session = session;
        assert!(status.ready().is_ok());
    }
}
