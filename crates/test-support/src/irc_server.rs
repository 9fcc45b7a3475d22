//! A private `ngircd` process per test, on a free loopback port, and [`IrcClient`], a
//! plain IRC client that plays the human in tests.
//!
//! ngircd is a real IRC server (Debian package `ngircd`): the gateway's tests talk the
//! real protocol, with the server's own nick, channel, flood and CASEMAPPING rules.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long a server may take to accept connections after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The oper account every test server has ([`IrcServer::kill`] uses it).
const OPER_NAME: &str = "testoper";
const OPER_PASSWORD: &str = "testoper-password";

/// The ngircd binary: `$NGIRCD` when set, else Debian's path, else `ngircd` on `PATH`.
fn ngircd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NGIRCD") {
        return PathBuf::from(path);
    }
    let debian = PathBuf::from("/usr/sbin/ngircd");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("ngircd")
    }
}

/// Options for an [`IrcServer`]; [`IrcServer::start`] uses the defaults.
#[derive(Debug, Default, Clone)]
pub struct IrcServerBuilder {
    password: Option<String>,
    tls: bool,
    network: Option<String>,
    ping_timeout: Option<u32>,
    no_penalties: bool,
}

impl IrcServerBuilder {
    /// Requires clients to send this server password (`PASS`) before registering.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Listens with TLS only, with a self-signed certificate for 127.0.0.1 made by the
    /// `openssl` command.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// The network name the server announces (`NETWORK=` in ISUPPORT).
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    /// PINGs an idle client after `seconds` of silence and drops it when no PONG
    /// follows within as long again (default: 120 s and 20 s, longer than any test;
    /// ngircd's minimum is 5).
    pub fn ping_timeout(mut self, seconds: u32) -> Self {
        self.ping_timeout = Some(seconds);
        self
    }

    /// No penalty times (`MaxPenaltyTime = 0`): ngircd then reads every line of a client
    /// as it comes instead of about one per second, so a benchmark measures the path,
    /// not the server's flood protection. A debugging setting, never a production one.
    pub fn no_penalties(mut self) -> Self {
        self.no_penalties = true;
        self
    }

    /// Starts the server and waits until it accepts connections.
    ///
    /// Panics (failing the test) when ngircd is not installed or does not come up, with
    /// the server's log in the message.
    pub async fn start(self) -> IrcServer {
        let dir = tempfile::Builder::new()
            .prefix("bytebot-ngircd-")
            .tempdir()
            .expect("creating a temporary directory for ngircd");
        let server = IrcServer {
            port: crate::redis_server::free_port(),
            options: self,
            dir,
            child: Mutex::new(None),
        };
        server.write_config();
        server.spawn().await;
        server
    }
}

/// An `ngircd` child process owned by one test; killed when dropped.
#[derive(Debug)]
pub struct IrcServer {
    port: u16,
    options: IrcServerBuilder,
    dir: tempfile::TempDir,
    child: Mutex<Option<Child>>,
}

impl IrcServer {
    /// Starts a plain-text server with no password.
    pub async fn start() -> IrcServer {
        IrcServerBuilder::default().start().await
    }

    /// Options for a server with a password or TLS.
    pub fn builder() -> IrcServerBuilder {
        IrcServerBuilder::default()
    }

    /// The loopback port this server listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the gateway's `IRC_SERVER`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's name (`irc.test`): the prefix of its own messages.
    pub fn name(&self) -> &'static str {
        "irc.test"
    }

    /// The server's log file (ngircd's console output); printed when a test panics.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("ngircd.log")
    }

    /// The server's log so far (empty when it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server (SIGKILL: clients see the connection drop, as in a crash).
    pub async fn stop(&self) {
        let child = self.child.lock().expect("lock").take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "ngircd did not stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts the server again on the same port (after [`IrcServer::stop`], or kills it
    /// first). The new server has no users and no channels.
    pub async fn restart(&self) {
        self.stop().await;
        self.spawn().await;
    }

    /// A client registered as `nick` (the human of a test). Panics when the server
    /// refuses the nick.
    pub async fn client(&self, nick: &str) -> IrcClient {
        assert!(!self.options.tls, "IrcClient speaks plain text only");
        IrcClient::connect(self.port, nick, self.options.password.as_deref())
            .await
            .unwrap_or_else(|err| panic!("IRC client {nick}: {err}\nngircd log:\n{}", self.log()))
    }

    /// Disconnects `nick` with `KILL`, as an IRC operator would; returns once the
    /// server has confirmed the kill.
    pub async fn kill(&self, nick: &str, reason: &str) {
        let mut oper = self.client(&format!("oper{}", fastrand_suffix())).await;
        oper.send(&format!("OPER {OPER_NAME} {OPER_PASSWORD}"))
            .await;
        oper.expect(|line| line.command == "381").await;
        oper.send(&format!("KILL {nick} :{reason}")).await;
        // ngircd answers a KILL of an unknown nick with 401; a good one with nothing,
        // so ask who is there once it is done.
        oper.send(&format!("ISON {nick}")).await;
        let ison = oper.expect(|line| line.command == "303").await;
        assert!(
            ison.params
                .last()
                .is_none_or(|nicks| nicks.trim().is_empty()),
            "{nick} is still on the server after KILL: {ison:?}"
        );
        oper.quit().await;
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let mut global = format!(
            "[Global]\n\tName = {}\n\tInfo = bytebot test server\n\tAdminInfo1 = test\n\t\
             AdminInfo2 = test\n\tAdminEMail = test@example.invalid\n\tListen = 127.0.0.1\n\t\
             MotdPhrase = \"bytebot test server\"\n\tPidFile = {}\n",
            self.name(),
            dir.join("ngircd.pid").display(),
        );
        if let Some(network) = &self.options.network {
            global.push_str(&format!("\tNetwork = {network}\n"));
        }
        if let Some(password) = &self.options.password {
            global.push_str(&format!("\tPassword = {password}\n"));
        }
        let mut ssl = String::new();
        if self.options.tls {
            let (cert, key) = crate::redis_server::self_signed_certificate(dir);
            // ngircd serves TLS on the ports of [SSL]; [Global] then has no port.
            global.push_str("\tPorts =\n");
            ssl = format!(
                "[SSL]\n\tCertFile = {}\n\tKeyFile = {}\n\tPorts = {}\n",
                cert.display(),
                key.display(),
                self.port
            );
        } else {
            global.push_str(&format!("\tPorts = {}\n", self.port));
        }
        let ping = self.options.ping_timeout.unwrap_or(120);
        let pong = self.options.ping_timeout.unwrap_or(20);
        let penalty = if self.options.no_penalties {
            "\tMaxPenaltyTime = 0\n"
        } else {
            ""
        };
        let config = format!(
            "{global}\
             [Limits]\n\tMaxJoins = 50\n\tMaxNickLength = 30\n\tPingTimeout = {ping}\n\tPongTimeout = {pong}\n\
             \tConnectRetry = 5\n{penalty}\
             [Options]\n\tIdent = no\n\tDNS = no\n\tPAM = no\n\tOperCanUseMode = yes\n\
             [Operator]\n\tName = {OPER_NAME}\n\tPassword = {OPER_PASSWORD}\n\
             {ssl}"
        );
        let path = dir.join("ngircd.conf");
        let mut file = std::fs::File::create(&path).expect("writing ngircd.conf");
        file.write_all(config.as_bytes())
            .expect("writing ngircd.conf");
        // ngircd started as root switches to `nobody`, which must still read its files.
        make_world_readable(dir);
    }

    async fn spawn(&self) {
        let ready_before = self.log().matches(") ready.").count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening ngircd.log");
        let child = Command::new(ngircd_binary())
            .arg("--nodaemon")
            .arg("--config")
            .arg(self.dir.path().join("ngircd.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "starting ngircd (is it installed? apt-get install ngircd; or set NGIRCD): {err}"
                )
            });
        *self.child.lock().expect("lock") = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // ngircd logs `Server "..." (on "...") ready.` once its listeners are open.
            if self.log().matches(") ready.").count() > ready_before {
                break;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "ngircd exited during start-up ({status}); log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ngircd did not start within {START_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().expect("lock");
        child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }
}

impl Drop for IrcServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- ngircd on port {} (log {}) ----\n{}",
                self.port,
                self.log_path().display(),
                self.log()
            );
        }
        if let Ok(mut child) = self.child.lock()
            && let Some(mut child) = child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(unix)]
fn make_world_readable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644));
        }
    }
}

#[cfg(not(unix))]
fn make_world_readable(_dir: &std::path::Path) {}

fn fastrand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One IRC line as the test client read it: `:prefix COMMAND params... :trailing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcLine {
    /// The raw line, without CR LF.
    pub raw: String,
    /// The source (`nick!user@host` or a server name), without the colon.
    pub prefix: Option<String>,
    /// The command or numeric, e.g. `PRIVMSG`, `001`.
    pub command: String,
    /// The parameters, the trailing one included (without its colon).
    pub params: Vec<String>,
}

impl IrcLine {
    /// Parses one line (no tags: ngircd sends none unless asked).
    pub fn parse(raw: &str) -> IrcLine {
        let raw = raw.trim_end_matches(['\r', '\n']).to_owned();
        let mut rest = raw.as_str();
        let mut prefix = None;
        if let Some(stripped) = rest.strip_prefix(':') {
            let (source, tail) = stripped.split_once(' ').unwrap_or((stripped, ""));
            prefix = Some(source.to_owned());
            rest = tail;
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_owned());
            rest = tail;
        }
        IrcLine {
            command: command.to_owned(),
            prefix,
            params,
            raw,
        }
    }

    /// The nick of the source (`nick` of `nick!user@host`).
    pub fn nick(&self) -> Option<&str> {
        self.prefix
            .as_deref()
            .map(|prefix| prefix.split('!').next().unwrap_or(prefix))
    }

    /// For PRIVMSG and NOTICE: (target, text).
    pub fn message(&self) -> Option<(&str, &str)> {
        match (self.command.as_str(), self.params.as_slice()) {
            ("PRIVMSG" | "NOTICE", [target, text]) => Some((target, text)),
            _ => None,
        }
    }
}

/// A plain IRC client for tests: the human on the other side of the gateway.
///
/// It answers the server's PINGs itself while a test waits in [`IrcClient::expect`].
#[derive(Debug)]
pub struct IrcClient {
    nick: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl IrcClient {
    /// Connects to `127.0.0.1:port` and registers as `nick` (with the server password
    /// when given); returns once the server has welcomed it (001) and sent its MOTD.
    pub async fn connect(
        port: u16,
        nick: &str,
        password: Option<&str>,
    ) -> Result<IrcClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|err| format!("connecting to 127.0.0.1:{port}: {err}"))?;
        let (read, write) = stream.into_split();
        let mut client = IrcClient {
            nick: nick.to_owned(),
            reader: BufReader::new(read),
            writer: write,
            seen: Vec::new(),
        };
        if let Some(password) = password {
            client.send(&format!("PASS {password}")).await;
        }
        client.send(&format!("NICK {nick}")).await;
        client
            .send(&format!("USER {} 0 * :bytebot test human", "human"))
            .await;
        let end = client
            .next_matching(crate::PATIENCE, |line| {
                matches!(
                    line.command.as_str(),
                    "376" | "422" | "433" | "432" | "464" | "ERROR"
                )
            })
            .await
            .ok_or_else(|| format!("no welcome; saw:\n{}", client.seen.join("\n")))?;
        if end.command == "376" || end.command == "422" {
            Ok(client)
        } else {
            Err(format!("registration refused: {}", end.raw))
        }
    }

    /// This client's nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Sends one raw line (CR LF added).
    pub async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("writing to the IRC server");
    }

    /// Joins `channel` (with its key when given) and waits for the server's confirmation.
    pub async fn join(&mut self, channel: &str, key: Option<&str>) {
        match key {
            Some(key) => self.send(&format!("JOIN {channel} {key}")).await,
            None => self.send(&format!("JOIN {channel}")).await,
        }
        let nick = self.nick.clone();
        self.expect(|line| line.command == "366" && line.params.first() == Some(&nick))
            .await;
    }

    /// `PRIVMSG target :text`.
    pub async fn privmsg(&mut self, target: &str, text: &str) {
        self.send(&format!("PRIVMSG {target} :{text}")).await;
    }

    /// `NOTICE target :text`.
    pub async fn notice(&mut self, target: &str, text: &str) {
        self.send(&format!("NOTICE {target} :{text}")).await;
    }

    /// Sends QUIT and closes the connection.
    pub async fn quit(mut self) {
        self.send("QUIT :bye").await;
        let _ = self.writer.shutdown().await;
    }

    /// Waits (up to [`crate::PATIENCE`]) for the next line that satisfies `wanted`,
    /// skipping the others; panics with everything read so far when none comes.
    pub async fn expect(&mut self, wanted: impl FnMut(&IrcLine) -> bool) -> IrcLine {
        match self.next_matching(crate::PATIENCE, wanted).await {
            Some(line) => line,
            None => panic!(
                "{}: the expected line did not arrive within {:?}; read so far:\n{}",
                self.nick,
                crate::PATIENCE,
                self.seen.join("\n")
            ),
        }
    }

    /// Waits for the next PRIVMSG from `from` (nick, case-sensitive) and returns
    /// (target, text).
    pub async fn expect_privmsg_from(&mut self, from: &str) -> (String, String) {
        let line = self
            .expect(|line| line.command == "PRIVMSG" && line.nick() == Some(from))
            .await;
        let (target, text) = line.message().expect("a PRIVMSG has a target and text");
        (target.to_owned(), text.to_owned())
    }

    /// Reads lines for `window`, answering PINGs; returns those that satisfy `wanted`
    /// (to prove that something did *not* arrive, after a marker that did).
    pub async fn collect_for(
        &mut self,
        window: Duration,
        mut wanted: impl FnMut(&IrcLine) -> bool,
    ) -> Vec<IrcLine> {
        let mut found = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Some(line) = self.next_line_until(deadline).await {
            if wanted(&line) {
                found.push(line);
            }
        }
        found
    }

    /// Waits up to `patience` for a line that satisfies `wanted`.
    pub async fn next_matching(
        &mut self,
        patience: Duration,
        mut wanted: impl FnMut(&IrcLine) -> bool,
    ) -> Option<IrcLine> {
        let deadline = tokio::time::Instant::now() + patience;
        while let Some(line) = self.next_line_until(deadline).await {
            if wanted(&line) {
                return Some(line);
            }
        }
        None
    }

    /// The next line before `deadline` (PINGs answered and skipped); `None` at the
    /// deadline or when the server closed the connection.
    async fn next_line_until(&mut self, deadline: tokio::time::Instant) -> Option<IrcLine> {
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut raw))
                .await
                .ok()?;
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = IrcLine::parse(&String::from_utf8_lossy(&raw));
            self.seen.push(line.raw.clone());
            if line.command == "PING" {
                let token = line.params.first().cloned().unwrap_or_default();
                self.send(&format!("PONG :{token}")).await;
                continue;
            }
            return Some(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every IRC test stands on this: two humans meet in a channel and talk.
    #[tokio::test]
    async fn two_clients_talk_in_a_channel() {
        let server = IrcServer::start().await;
        let mut alice = server.client("alice").await;
        let mut bob = server.client("bob").await;
        alice.join("#test", None).await;
        bob.join("#test", None).await;
        alice.privmsg("#test", "hello bob").await;
        let (target, text) = bob.expect_privmsg_from("alice").await;
        assert_eq!((target.as_str(), text.as_str()), ("#test", "hello bob"));
    }

    /// Reconnect tests need the same port back, with an empty server, and KILL to work.
    #[tokio::test]
    async fn restart_keeps_the_port_and_kill_disconnects() {
        let server = IrcServer::start().await;
        let port = server.port();
        let mut victim = server.client("victim").await;
        server.kill("victim", "test kill").await;
        let closed = victim
            .next_matching(crate::PATIENCE, |line| line.command == "ERROR")
            .await;
        assert!(closed.is_some(), "the killed client was not told");
        server.restart().await;
        assert_eq!(server.port(), port);
        let mut again = server.client("victim").await;
        again.join("#back", None).await;
    }

    /// The server password is enforced, so tests of PASS can fail.
    #[tokio::test]
    async fn password_is_required_when_set() {
        let server = IrcServer::builder().password("sesame").start().await;
        assert!(
            IrcClient::connect(server.port(), "nopass", None)
                .await
                .is_err()
        );
        assert!(
            IrcClient::connect(server.port(), "withpass", Some("sesame"))
                .await
                .is_ok()
        );
    }

    /// A TLS server comes up (ngircd built with GnuTLS) and speaks no plain text.
    #[tokio::test]
    async fn tls_server_starts_and_refuses_plain_text() {
        let server = IrcServer::builder().tls().start().await;
        let plain = tokio::time::timeout(
            Duration::from_secs(3),
            IrcClient::connect(server.port(), "plain", None),
        )
        .await;
        assert!(
            !matches!(plain, Ok(Ok(_))),
            "a plain-text client registered on a TLS port"
        );
    }

    #[test]
    fn lines_parse_into_prefix_command_and_params() {
        let line = IrcLine::parse(":a!b@c PRIVMSG #x :hello there\r\n");
        assert_eq!(line.nick(), Some("a"));
        assert_eq!(line.message(), Some(("#x", "hello there")));
        let line = IrcLine::parse("PING :irc.test");
        assert_eq!(line.prefix, None);
        assert_eq!(line.params, vec!["irc.test"]);
    }
}
