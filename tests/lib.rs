//! Shared helpers for the end-to-end tests under `tests/e2e`: the built binaries,
//! child processes that cannot outlive a test, and waiting for subscribers.
//!
//! `cargo test --workspace` does not build other packages' binaries for this package's
//! tests, so [`binaries`] runs `cargo build -p router-tools -p example-subscriber` once
//! per test run, with the same cargo, target directory and profile as the test binary
//! itself (found from its own path, so `CARGO_TARGET_DIR` and `--release` are
//! respected). That costs one no-op build when they are up to date, and needs no extra
//! crate (`escargot` would do the same with a JSON-message parser on top).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use bytebot_test_support::PATIENCE;

/// Paths of the binaries under test.
#[derive(Debug)]
pub struct Binaries {
    /// `router-tools`.
    pub router_tools: PathBuf,
    /// `example-subscriber`.
    pub example_subscriber: PathBuf,
    /// `gateway-discord`.
    pub gateway_discord: PathBuf,
    /// `gateway-irc`.
    pub gateway_irc: PathBuf,
    /// The directory that holds both.
    pub dir: PathBuf,
}

/// The workspace root (where `Cargo.toml`, `scripts/` and `examples/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The target directory and profile directory of the running test binary
/// (`<target>/<profile>/deps/e2e-<hash>`).
fn target_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let target = profile_dir
        .parent()
        .expect("<target>/<profile>")
        .to_path_buf();
    let profile = profile_dir
        .file_name()
        .expect("a profile directory")
        .to_string_lossy()
        .into_owned();
    (target, profile)
}

/// The target directory the tests were built in (for caches such as the Python
/// virtualenv, which outlive one test run).
pub fn target_dir() -> PathBuf {
    target_and_profile().0
}

/// Builds router-tools, example-subscriber and the gateways (once per test run) and
/// returns them.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let (target, profile_dir) = target_and_profile();
        // The `dev` profile builds into `debug/`; every other profile into its own name.
        let profile = if profile_dir == "debug" {
            "dev"
        } else {
            profile_dir.as_str()
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let output = Command::new(cargo)
            .current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "router-tools",
                "-p",
                "example-subscriber",
                "-p",
                "gateway-discord",
                "-p",
                "gateway-irc",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--target-dir")
            .arg(&target)
            .stdin(Stdio::null())
            .output()
            .expect("running cargo build");
        assert!(
            output.status.success(),
            "cargo build -p router-tools -p example-subscriber -p gateway-discord -p gateway-irc failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let dir = target.join(&profile_dir);
        Binaries {
            router_tools: dir.join(format!("router-tools{}", std::env::consts::EXE_SUFFIX)),
            example_subscriber: dir.join(format!(
                "example-subscriber{}",
                std::env::consts::EXE_SUFFIX
            )),
            gateway_discord: dir.join(format!("gateway-discord{}", std::env::consts::EXE_SUFFIX)),
            gateway_irc: dir.join(format!("gateway-irc{}", std::env::consts::EXE_SUFFIX)),
            dir,
        }
    })
}

/// A long-running child process (a subscriber, `watch`, a Python bot) that is killed
/// when dropped, so a failing test leaves nothing running. Its stdout and stderr go to
/// a log file, printed when the test panics.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Child,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Spawns `program` with `args` and extra environment variables.
    pub fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("bytebot-e2e-")
            .tempdir()
            .expect("a temporary directory");
        let name = program
            .file_name()
            .map_or_else(|| "daemon".into(), |n| n.to_string_lossy().into_owned());
        let log_path = dir.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).expect("creating the log file");
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("spawning {}: {err}", program.display()));
        Daemon {
            name,
            child,
            log_path,
            _dir: dir,
        }
    }

    /// Starts example-subscriber against `redis_url` and waits until it is subscribed.
    pub async fn example_subscriber(redis_url: &str, args: &[&str]) -> Daemon {
        let daemon = Daemon::spawn(
            &binaries().example_subscriber,
            args,
            &[
                ("REDIS_URL", redis_url),
                ("RUST_LOG", "info"),
                ("NO_COLOR", "1"),
            ],
        );
        daemon
            .wait_subscribed(redis_url, "example-subscriber")
            .await;
        daemon
    }

    /// `router-tools watch` with its default patterns, subscribed when this returns.
    pub async fn watch(redis_url: &str) -> Daemon {
        let daemon = Daemon::spawn(
            &binaries().router_tools,
            &["watch"],
            &[("REDIS_URL", redis_url)],
        );
        daemon
            .wait_subscribed(redis_url, "router-tools-watch")
            .await;
        daemon
    }

    /// Waits until a connection named `bytebot:<role>:...` has a pattern subscription.
    pub async fn wait_subscribed(&self, redis_url: &str, role: &str) {
        if !wait_for_subscriber(redis_url, role).await {
            panic!("{} never subscribed; its log:\n{}", self.name, self.log());
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most [`PATIENCE`]) for the process to exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
        self.wait_exit().await
    }

    /// Waits (at most [`PATIENCE`]) for the process to exit on its own.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; its log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- {} log ----\n{}", self.name, self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a client named `bytebot:<role>:...` with a pattern subscription shows up in
/// `CLIENT LIST` within [`PATIENCE`].
pub async fn wait_for_subscriber(redis_url: &str, role: &str) -> bool {
    let prefix = format!("name=bytebot:{role}:");
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Ok(list) = client_list(redis_url).await
            && list
                .lines()
                .any(|line| line.contains(&prefix) && !line.contains(" psub=0 "))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// `CLIENT LIST` of the server at `redis_url`.
pub async fn client_list(redis_url: &str) -> redis::RedisResult<String> {
    let client = redis::Client::open(redis_url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut connection)
        .await
}

/// Runs a command to completion with `stdin` as its input, killing it if it takes
/// longer than [`PATIENCE`].
pub async fn run(program: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("spawning {}: {err}", program.display()));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.as_bytes().to_vec();
    // Write from a task, so a child that does not read its input cannot block the test;
    // dropping `input` at the end closes the pipe (end of input).
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = input.write_all(&stdin).await;
    });
    match tokio::time::timeout(PATIENCE, child.wait_with_output()).await {
        Ok(output) => output.expect("waiting for the child"),
        Err(_) => panic!(
            "{} {args:?} did not finish within {PATIENCE:?}",
            program.display()
        ),
    }
}

/// Runs `router-tools` with `args` against `redis_url`.
pub async fn router_tools(redis_url: &str, args: &[&str], stdin: &str) -> Output {
    run(
        &binaries().router_tools,
        args,
        &[
            ("REDIS_URL", redis_url),
            ("USER", "tester"),
            ("NO_COLOR", "1"),
        ],
        stdin,
    )
    .await
}

/// The line `router-tools send` prints after publishing to `n` connections.
pub fn received_by(n: i64) -> String {
    format!(
        "received by {n} subscriber(s) (every connection whose pattern or channel matched, `router-tools watch` included)\n"
    )
}

/// `text` without the line of example-subscriber's `!ping` round trip, `pong (N ms)
/// (edited)`: chat shows it once the bot has edited `pong` (after chat's receipt for
/// it), which is usually before chat exits, but not always on a loaded machine. Tests
/// about other things compare the rest exactly; `console.rs` checks the edit itself.
pub fn without_round_trip(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let millis = line
                .strip_prefix("pong (")
                .and_then(|rest| rest.strip_suffix(" ms) (edited)"));
            millis.is_none_or(|millis| millis.parse::<u64>().is_err())
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
