//! Secrets around malformed input: no form of `REDIS_URL` or `--redis-url`, however
//! broken, makes a binary (the three daemons and router-tools) print its password, at
//! any log level.

use std::path::Path;

use bytebot_e2e::{binaries, run, stderr, stdout};

/// A malformed URL, the part of it that must never be printed (everything after the
/// userinfo's ':', or the socket password), and what the error must say.
struct Case {
    url: &'static str,
    hidden: &'static str,
    says: &'static str,
}

/// Every secret below contains this marker, in any case.
const MARKER: &str = "s3cr3t";

const CASES: &[Case] = &[
    Case {
        url: "redis://:p#w0rdS3CR3T@127.0.0.1:1",
        hidden: "p#w0rdS3CR3T@127.0.0.1:1",
        says: "percent-encode",
    },
    Case {
        url: "redis://:p?w0rdS3CR3T@127.0.0.1:1",
        hidden: "p?w0rdS3CR3T@127.0.0.1:1",
        says: "percent-encode",
    },
    Case {
        url: "redis://bot:p/w0rdS3CR3T@127.0.0.1:1",
        hidden: "p/w0rdS3CR3T@127.0.0.1:1",
        says: "percent-encode",
    },
    Case {
        url: "redis://:pwS3CR3T@[::1",
        hidden: "pwS3CR3T@[::1",
        says: "not a valid IPv6 address",
    },
    Case {
        url: "redis://:pwS3CR3T@127.0.0.1:99999",
        hidden: "pwS3CR3T@127.0.0.1:99999",
        says: "the port is not a number from 1 to 65535",
    },
    Case {
        url: "redis://:pwS3CR3T@127.0.0.1:0",
        hidden: "pwS3CR3T@127.0.0.1:0",
        says: "the port is 0",
    },
    Case {
        url: "redis://:pwS3CR3T@:6379",
        hidden: "pwS3CR3T@:6379",
        says: "the host is empty",
    },
    Case {
        url: "redis://:pw\tS3CR3T@127.0.0.1",
        hidden: "pw\tS3CR3T@127.0.0.1",
        says: "is a tab",
    },
    Case {
        url: "redis://:pwS3CR3T@127.0.0.1\n",
        hidden: "pwS3CR3T@127.0.0.1",
        says: "is a line feed",
    },
    Case {
        url: "redis:/\t/:pwS3CR3T@h",
        hidden: "pwS3CR3T@h",
        says: "is a tab",
    },
    Case {
        url: "redis://:pw%0AS3CR3T@127.0.0.1",
        hidden: "pw%0AS3CR3T@127.0.0.1",
        says: "the password contains a line feed once percent-decoded",
    },
    Case {
        url: "redis://:pwS3CR3T@127.0.0.1/notadb",
        hidden: "pwS3CR3T@127.0.0.1/notadb",
        says: "the database (the path after the host) must be a number",
    },
    Case {
        url: "redis://:pwS3CR3T@0.0.0.0:6379",
        hidden: "pwS3CR3T@0.0.0.0:6379",
        says: "not one to connect to",
    },
    Case {
        url: "http://bot:pwS3CR3T@127.0.0.1",
        hidden: "pwS3CR3T@127.0.0.1",
        says: "unsupported scheme",
    },
    Case {
        url: "rediss://:pwS3CR3T@127.0.0.1#secure",
        hidden: "pwS3CR3T@127.0.0.1#secure",
        says: "only #insecure",
    },
    Case {
        url: "redis+unix:///run/redis.sock?p%61ss=pwS3CR3T&bogus=1",
        hidden: "pwS3CR3T&bogus=1",
        says: "query parameter 2",
    },
    Case {
        url: "unix:///run/redis.sock?pa\nss=pwS3CR3T",
        hidden: "pwS3CR3T",
        says: "is a line feed",
    },
    Case {
        url: "redis+cluster://:pwS3CR3T@127.0.0.1:7000,,127.0.0.1:7001",
        hidden: "pwS3CR3T@127.0.0.1:7000",
        says: "one of them is empty",
    },
    Case {
        url: "rediss+cluster://bot:pw%0AS3CR3T@127.0.0.1:7000",
        hidden: "pw%0AS3CR3T@127.0.0.1:7000",
        says: "node 1 of the list: the password contains a line feed once percent-decoded",
    },
    Case {
        url: "redis+cluster://:p#wS3CR3T@127.0.0.1:7000",
        hidden: "p#wS3CR3T@127.0.0.1:7000",
        says: "percent-encode",
    },
];

/// How a binary is started with a URL: its arguments before the flag, and extra
/// environment (the gateway needs a token to get past its own check).
struct Program {
    name: &'static str,
    path: &'static Path,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

fn programs() -> [Program; 4] {
    let binaries = binaries();
    [
        Program {
            name: "gateway-discord",
            path: &binaries.gateway_discord,
            args: &[],
            env: &[("DISCORD_TOKEN", "not-a-real-token")],
        },
        Program {
            name: "gateway-irc",
            path: &binaries.gateway_irc,
            args: &[],
            env: &[("IRC_SERVER", "127.0.0.1:1"), ("IRC_PASSWORD", "irc-pw")],
        },
        Program {
            name: "example-subscriber",
            path: &binaries.example_subscriber,
            args: &[],
            env: &[],
        },
        Program {
            name: "router-tools doctor",
            path: &binaries.router_tools,
            args: &["doctor"],
            env: &[],
        },
    ]
}

/// The Go gateway logged the Redis password, and clap's "invalid value '<raw>'" line
/// printed any URL it refused. Each malformed URL, from the flag and from the
/// environment, at trace level: exit status 2 (a usage error, like clap's), a message
/// that says what is wrong, and nothing of the password anywhere in the output.
#[tokio::test]
async fn malformed_redis_urls_never_print_the_password() {
    assert!(CASES.len() >= 12);
    for program in programs() {
        for case in CASES {
            for from_env in [false, true] {
                let mut args: Vec<&str> = program.args.to_vec();
                let mut env = vec![("RUST_LOG", "trace"), ("NO_COLOR", "1")];
                env.extend_from_slice(program.env);
                if from_env {
                    env.push(("REDIS_URL", case.url));
                } else {
                    args.extend(["--redis-url", case.url]);
                }
                let output = run(program.path, &args, &env, "").await;
                let how = if from_env { "REDIS_URL" } else { "--redis-url" };
                let printed = format!("{}{}", stdout(&output), stderr(&output));
                let context = format!("{} with {how}={:?}:\n{printed}", program.name, case.url);
                assert_eq!(output.status.code(), Some(2), "{context}");
                assert!(!printed.to_lowercase().contains(MARKER), "{context}");
                assert!(!printed.contains(case.hidden), "{context}");
                assert!(
                    printed.contains("invalid value for '--redis-url <REDIS_URL>' (or REDIS_URL): invalid redis url: "),
                    "{context}"
                );
                assert!(printed.contains(case.says), "{context}");
            }
        }
    }
}

/// URLs that parse, but whose password only shows once percent-escapes are decoded
/// (`p%61ss` is `pass`): the connection error prints the form rebuilt from the parsed
/// parts, with the password as `***`.
#[tokio::test]
async fn percent_escaped_passwords_print_as_stars() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-redis-here.sock");
    let socket = socket.to_str().unwrap();
    for (url, printed) in [
        (
            format!("redis+unix://{socket}?p%61ss=pwS3CR3T"),
            format!("redis+unix://{socket}?pass=***"),
        ),
        (
            format!("unix://{socket}?pass=pw%53%33CR3T&db=2"),
            format!("unix://{socket}?db=2&pass=***"),
        ),
        (
            "redis://bot:pw%53%33CR3T@127.0.0.1:1/3".to_owned(),
            "redis://bot:***@127.0.0.1:1/3".to_owned(),
        ),
    ] {
        let output = run(
            &binaries().router_tools,
            &["doctor"],
            &[
                ("REDIS_URL", url.as_str()),
                ("RUST_LOG", "trace"),
                ("NO_COLOR", "1"),
            ],
            "",
        )
        .await;
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(2), "{url}: {text}");
        assert!(!text.to_lowercase().contains(MARKER), "{url}: {text}");
        assert!(!text.contains("%53%33"), "{url}: {text}");
        assert!(
            text.contains(&format!("cannot reach redis at {printed}")),
            "{url}: {text}"
        );
    }
}
