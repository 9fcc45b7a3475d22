//! The IRC side of the configuration: server, TLS, nick, channels (with keys), network
//! name, passwords and flood limits, parsed once from flags and environment.
//!
//! Passwords and channel keys are `SecretString`s: their `Debug` prints `[REDACTED]`,
//! so no log line or error can show them by accident.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

use crate::flood::FloodLimit;

/// The IRC port when none is given: 6697 with TLS (RFC 7194), 6667 without.
pub fn default_port(tls: bool) -> u16 {
    if tls { 6697 } else { 6667 }
}

/// `host:port` of the IRC server (`IRC_SERVER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Host name or IP address; also the TLS server name.
    pub host: String,
    /// TCP port; `None` for the default of the transport ([`default_port`]).
    pub port: Option<u16>,
}

impl ServerAddr {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    pub fn parse(raw: &str) -> Result<ServerAddr, String> {
        let raw = raw.trim();
        let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (host, tail) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{raw}`: an IPv6 address needs its closing `]`"))?;
            (host, tail.strip_prefix(':'))
        } else {
            match raw.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, Some(port)),
                _ => (raw, None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!(
                "`{raw}`: expected host:port, e.g. irc.libera.chat:6697"
            ));
        }
        let port = port
            .map(|port| {
                port.parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| format!("`{raw}`: `{port}` is not a port number"))
            })
            .transpose()?;
        Ok(ServerAddr {
            host: host.to_owned(),
            port,
        })
    }

    /// The port to connect to.
    pub fn port_or_default(&self, tls: bool) -> u16 {
        self.port.unwrap_or_else(|| default_port(tls))
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// The network name for topics when `IRC_NETWORK` is not set, from the server's host:
/// `irc.libera.chat` -> `libera`, `irc.oftc.net` -> `oftc`, `chat.freenode.net` ->
/// `chat-freenode`; an IP address or a one-label host is kept (dots become `-`).
pub fn network_from_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if is_ip {
        return host.replace([':', '.'], "-");
    }
    let mut labels: Vec<&str> = host.split('.').filter(|label| !label.is_empty()).collect();
    if labels.len() > 1 {
        labels.pop(); // the top-level domain
    }
    if labels.len() > 1 && labels[0] == "irc" {
        labels.remove(0);
    }
    if labels.is_empty() {
        return "irc".to_owned();
    }
    labels.join("-")
}

/// One channel to join (`IRC_CHANNELS` item `#chan` or `#chan:key`).
#[derive(Clone)]
pub struct ChannelSpec {
    /// The channel name as configured.
    pub name: String,
    /// The channel key (`+k`), a secret like a password.
    pub key: Option<SecretString>,
}

impl fmt::Debug for ChannelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSpec")
            .field("name", &self.name)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// Parses `IRC_CHANNELS`: comma-separated names, each optionally `:key`. A channel
/// name cannot contain `:` (RFC 2812 2.3.1), so the first colon starts the key.
pub fn parse_channels(raw: &str) -> Result<Vec<ChannelSpec>, String> {
    let mut channels = Vec::new();
    for item in raw
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (name, key) = match item.split_once(':') {
            Some((name, key)) => (name, Some(key)),
            None => (item, None),
        };
        if !name.starts_with(['#', '&', '+', '!']) {
            return Err(format!(
                "`{name}` is not a channel name: channels start with #, &, + or !"
            ));
        }
        if name.len() < 2 || name.contains(|c: char| c.is_whitespace() || c == '\x07') {
            return Err(format!("`{name}` is not a valid channel name"));
        }
        if key.is_some_and(|key| key.is_empty() || key.contains(char::is_whitespace)) {
            // Never echo the key itself.
            return Err(format!("the key of `{name}` is empty or has whitespace"));
        }
        channels.push(ChannelSpec {
            name: name.to_owned(),
            key: key.map(|key| SecretString::from(key.to_owned())),
        });
    }
    Ok(channels)
}

/// SASL PLAIN credentials (`IRC_SASL_USER`, `IRC_SASL_PASSWORD`).
#[derive(Debug, Clone)]
pub struct SaslPlain {
    /// The account name.
    pub user: String,
    /// The account password.
    pub password: SecretString,
}

/// Reconnect pacing: the wait doubles from `min` after each failed attempt, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait after a disconnect.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

/// Everything the IRC connection needs.
#[derive(Debug, Clone)]
pub struct IrcConfig {
    /// Where to connect.
    pub server: ServerAddr,
    /// Connect with TLS.
    pub tls: bool,
    /// With TLS, accept any certificate (a self-signed test server only).
    pub tls_insecure: bool,
    /// The nick to register; alternates (`nick_`, `nick__`, `nick1`...) on 433.
    pub nick: String,
    /// The user name sent in USER (shown as `~user` without ident).
    pub username: String,
    /// The real name sent in USER.
    pub realname: String,
    /// Channels to join after registration and after every reconnect.
    pub channels: Vec<ChannelSpec>,
    /// The topics' space segment for this server.
    pub network: String,
    /// The server password (`PASS`).
    pub password: Option<SecretString>,
    /// SASL PLAIN login.
    pub sasl: Option<SaslPlain>,
    /// Outgoing message pacing.
    pub flood: FloodLimit,
    /// Rejoin a channel we are kicked from.
    pub rejoin_on_kick: bool,
    /// Join a channel we are invited to.
    pub join_on_invite: bool,
    /// Reconnect pacing.
    pub backoff: Backoff,
    /// Send a PING after this long without a line from the server; give up on the
    /// connection after as long again without one.
    pub keepalive: Duration,
}

impl IrcConfig {
    /// A configuration with the defaults: network derived from the host, flood limit
    /// burst 4 then 1 line per 2 s, rejoin after a kick, no join on invite.
    pub fn new(server: ServerAddr, nick: impl Into<String>) -> IrcConfig {
        let nick = nick.into();
        IrcConfig {
            network: network_from_host(&server.host),
            server,
            tls: false,
            tls_insecure: false,
            username: "bytebot".to_owned(),
            realname: "Bytebot gateway".to_owned(),
            nick,
            channels: Vec::new(),
            password: None,
            sasl: None,
            flood: FloodLimit::default(),
            rejoin_on_kick: true,
            join_on_invite: false,
            backoff: Backoff::default(),
            keepalive: Duration::from_secs(90),
        }
    }

    /// The nick to try after `attempt` refusals (433): `nick`, `nick_`, `nick__`, then
    /// `nick1`, `nick2`... (cut to fit the common 16-character limit when needed).
    pub fn nick_attempt(&self, attempt: u32) -> String {
        match attempt {
            0 => self.nick.clone(),
            1 | 2 => format!("{}{}", self.nick, "_".repeat(attempt as usize)),
            n => {
                let suffix = (n - 2).to_string();
                let keep = self
                    .nick
                    .len()
                    .min(16usize.saturating_sub(suffix.len()).max(1));
                let mut cut = keep;
                while !self.nick.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}{suffix}", &self.nick[..cut])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn server_addresses_parse_with_and_without_port() {
        let addr = ServerAddr::parse("irc.libera.chat:6697").unwrap();
        assert_eq!(
            (addr.host.as_str(), addr.port),
            ("irc.libera.chat", Some(6697))
        );
        assert_eq!(
            ServerAddr::parse("irc.oftc.net")
                .unwrap()
                .port_or_default(true),
            6697
        );
        assert_eq!(ServerAddr::parse("[::1]:6667").unwrap().host, "::1");
        assert!(ServerAddr::parse("host:notaport").is_err());
        assert!(ServerAddr::parse("").is_err());
    }

    #[test]
    fn the_network_comes_from_the_host() {
        assert_eq!(network_from_host("irc.libera.chat"), "libera");
        assert_eq!(network_from_host("irc.oftc.net"), "oftc");
        assert_eq!(network_from_host("chat.freenode.net"), "chat-freenode");
        assert_eq!(network_from_host("127.0.0.1"), "127-0-0-1");
        assert_eq!(network_from_host("localhost"), "localhost");
    }

    #[test]
    fn channels_parse_with_keys_and_keys_stay_secret() {
        let channels = parse_channels("#rust, #secret:hunter2,&local").unwrap();
        assert_eq!(channels.len(), 3);
        assert_eq!(channels[1].name, "#secret");
        assert_eq!(channels[1].key.as_ref().unwrap().expose_secret(), "hunter2");
        assert!(!format!("{channels:?}").contains("hunter2"));
        assert!(parse_channels("rust").is_err());
        let err = parse_channels("#c:bad key").unwrap_err();
        assert!(!err.contains("bad key"), "{err}");
    }

    #[test]
    fn alternate_nicks_follow_the_usual_pattern() {
        let config = IrcConfig::new(ServerAddr::parse("h:1").unwrap(), "bytebot");
        let nicks: Vec<_> = (0..5).map(|n| config.nick_attempt(n)).collect();
        assert_eq!(
            nicks,
            ["bytebot", "bytebot_", "bytebot__", "bytebot1", "bytebot2"]
        );
    }
}
