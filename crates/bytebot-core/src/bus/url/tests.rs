//! Tests of `RedisUrl`: what is accepted, what the driver gets, how it prints, and a
//! property test that no password ever reaches `Display`, `Debug` or an error.

use proptest::prelude::*;
use redis::ConnectionAddr;

use super::*;

/// Everything `url` could show: `Display`, `Debug`, or the error's `Display` and `Debug`.
fn shown(input: &str) -> String {
    match RedisUrl::parse(input) {
        Ok(url) => format!("{url} {url:?} {}", url.redacted()),
        Err(err) => format!("{err} {err:?}"),
    }
}

fn parsed(input: &str) -> RedisUrl {
    RedisUrl::parse(input).unwrap_or_else(|err| panic!("{input:?}: {err}"))
}

fn reason(input: &str) -> String {
    match RedisUrl::parse(input) {
        Ok(url) => panic!("{input:?} was accepted as {url}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn supported_forms_parse_and_print_from_their_parts() {
    let cases = [
        (DEFAULT_REDIS_URL, "redis://127.0.0.1:6379"),
        ("redis://:s3cret@host:6379/2", "redis://:***@host:6379/2"),
        ("redis://alice:s3cret@host", "redis://alice:***@host"),
        (
            "rediss://alice:s3c@r3t@host:6380",
            "rediss://alice:***@host:6380",
        ),
        ("rediss://host#insecure", "rediss://host#insecure"),
        ("REDIS://Host.Example", "redis://host.example"),
        ("redis://alice@host", "redis://alice@host"),
        ("redis://[::1]:7000/3", "redis://[::1]:7000/3"),
        ("redis://host/", "redis://host"),
        ("redis://host?protocol=3", "redis://host"),
        ("valkey://host", "valkey://host"),
        (
            "redis+unix:///run/redis.sock?db=1&pass=s3cret",
            "redis+unix:///run/redis.sock?db=1&pass=***",
        ),
        ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
        (
            "unix:///tmp/my%20redis.sock?user=bob",
            "unix:///tmp/my%20redis.sock?user=bob",
        ),
        // A user name is printed encoded, so a decoded newline cannot forge a log line.
        ("redis://b%C3%A9a:pw@host", "redis://b%C3%A9a:***@host"),
    ];
    for (input, printed) in cases {
        let url = parsed(input);
        assert_eq!(url.to_string(), printed, "{input}");
        assert_eq!(format!("{url:?}"), format!("RedisUrl({printed:?})"));
    }
}

/// The driver gets exactly the parts that were checked and printed: the password
/// percent-decoded, the database, the port, TLS.
#[test]
fn the_driver_gets_the_decoded_parts() {
    let url = parsed("rediss://bot:p%23ss%2Fw%3Frd@redis.internal:6380/4#insecure");
    let settings = url.info.redis_settings();
    assert_eq!(settings.password(), Some("p#ss/w?rd"));
    assert_eq!(settings.username(), Some("bot"));
    assert_eq!(settings.db(), 4);
    assert!(url.has_password());
    assert!(matches!(
        url.info.addr(),
        ConnectionAddr::TcpTls { host, port: 6380, insecure: true, .. } if host == "redis.internal"
    ));

    let url = parsed("redis://[::1]");
    assert!(matches!(url.info.addr(), ConnectionAddr::Tcp(host, 6379) if host == "::1"));
    assert!(!url.has_password());

    let url = parsed("redis+unix:///run/redis.sock?p%61ss=abcdef&db=2&user=u");
    let settings = url.info.redis_settings();
    assert_eq!(settings.password(), Some("abcdef"));
    assert_eq!(settings.username(), Some("u"));
    assert_eq!(settings.db(), 2);
    assert_eq!(
        url.to_string(),
        "redis+unix:///run/redis.sock?db=2&user=u&pass=***"
    );
    assert!(
        matches!(url.info.addr(), ConnectionAddr::Unix(path) if path.to_str() == Some("/run/redis.sock"))
    );
}

/// The cases a fuzzing run found: the old redaction read the raw string while the URL
/// parser and the driver stripped tab/LF/CR and decoded percent-escapes.
#[test]
fn fuzz_findings_never_show_the_password() {
    for input in [
        "redis:/\t/:abcdef@h",
        "x:/\t/:abcdef@h",
        "unix:///p?pa\nss=abcdef",
        "redis+unix:///p?p%61ss=abcdef",
        "redis+unix:///p?pass=abc%64ef",
        "redis://:abc%64ef@h",
    ] {
        let shown = shown(input);
        assert!(!shown.contains("abcdef"), "{input:?}: {shown}");
        assert!(!shown.contains("abc%64ef"), "{input:?}: {shown}");
    }
}

/// Each malformed URL is refused with what is wrong, and the message never contains
/// anything after the userinfo's ':'.
#[test]
fn malformed_urls_say_what_is_wrong_without_quoting_the_input() {
    let cases = [
        ("", "empty"),
        ("localhost:6379", "scheme"),
        ("http://u:s3cr3t@host", "unsupported scheme"),
        ("redis://:s3cr3t#x@127.0.0.1:1", "percent-encode"),
        ("redis://:s3cr3t?x@127.0.0.1:1", "percent-encode"),
        ("redis://:s3cr3t/x@127.0.0.1:1", "percent-encode"),
        ("redis://:s3cr3t@[::1", "IPv6"),
        ("redis://:s3cr3t@host:99999", "port"),
        ("redis://:s3cr3t@host:0", "port"),
        ("redis://:s3cr3t@host:port", "port"),
        ("redis://:s3cr3t@:6379", "host is empty"),
        ("redis://:s3cr3t@", "host is empty"),
        ("redis://:s3cr3t@0.0.0.0", "listen"),
        ("redis://:s3\tcr3t@host", "tab"),
        ("redis://:s3cr3t@host\n", "line feed"),
        ("redis://:s3cr3t@host\r", "carriage return"),
        ("redis://:s3cr3t@ho st", "space"),
        ("redis://:s3cr%0A3t@host", "password contains a line feed"),
        ("redis://:s3cr%FF3t@host", "UTF-8"),
        ("redis://:s3cr3t@ho%0ast", "host contains a line feed"),
        ("redis://:s3cr3t@ho%40st", "host contains a character"),
        ("redis://:s3cr3t@host/notadb", "database"),
        ("redis://:s3cr3t@host/1/2", "database"),
        ("redis://:s3cr3t@host?db=1", "path"),
        ("redis://:s3cr3t@host?password=x", "query parameter 1"),
        ("redis://:s3cr3t@host?protocol=2", "RESP3"),
        ("redis://:s3cr3t@host#frag", "only rediss://"),
        ("rediss://:s3cr3t@host#secure", "only #insecure"),
        ("redis+unix://?pass=s3cr3t", "socket path is empty"),
        ("redis+unix://host/sock?pass=s3cr3t", "no host"),
        ("redis+unix:///sock?password=s3cr3t", "pass="),
        ("redis+unix:///sock?pass=s3cr3t&pass=again", "twice"),
        ("redis+unix:///sock?db=x&pass=s3cr3t", "db="),
        ("redis+unix:///sock?pass=s3cr3t&paws=x", "query parameter 2"),
        ("redis+unix:///sock?pass=s3cr3t#x", "no '#'"),
        ("redis+unix:///so%00ck?pass=s3cr3t", "socket path contains"),
    ];
    for (input, expected) in cases {
        let message = reason(input);
        assert!(
            message.starts_with("invalid redis url: "),
            "{input:?}: {message}"
        );
        assert!(message.contains(expected), "{input:?}: {message}");
        for secret in ["s3cr3t", "s3cr", "cr3t", "s3\tcr3t", "s3cr%"] {
            assert!(!message.contains(secret), "{input:?}: {message}");
        }
    }
}

/// Where a generated password is put: every part of a URL it could end up in, valid
/// and malformed, TCP and socket, raw and percent-encoded.
const SHAPES: &[&str] = &[
    "redis://:{p}@h",
    "redis://user:{p}@h:6379/1",
    "rediss://u:{p}@h:6380#insecure",
    "rediss://u:{e}@h:6380#insecure",
    "redis://:{e}@h",
    "redis://:{p}@127.0.0.1:99999",
    "redis://:{p}@[::1",
    "redis://:{p}@[::1]:6379",
    "redis://:{p}@:6379",
    "redis://:{p}@h:0",
    "redis://:{p}@h/notadb",
    "redis://:{p}@h?x=1",
    "redis://:{p}@h#frag",
    "redis://:{p}@h:6379/0?protocol=3",
    "redis://:{p}@h?protocol=2",
    "redis:/\t/:{p}@h",
    "x:/\t/:{p}@h",
    "x://:{p}@h",
    "http://u:{p}@h",
    "redis+unix:///p?pass={p}",
    "redis+unix:///p?pass={e}",
    "redis+unix:///p?p%61ss={p}",
    "unix:///p?pa\nss={p}",
    "unix:///p?db=x&pass={p}",
    "unix:///p?password={p}",
    "redis+unix://h/p?pass={p}",
    "redis+unix:///p?pass={p}&pass=x",
    "redis+unix:///p%00?pass={p}",
    "{p}",
    ":{p}@h",
    "redis://:{p}",
    "redis://:{p}@",
    "redis://u:{p}@h@h2",
    "rediss://:{p}@h#notinsecure",
    "redis://:{p}@0.0.0.0",
    "redis://:{p}@h%0a",
    "redis://u%0a:{p}@h",
    "valkey://:{p}@h",
    "redis://:{p}@exa mple.com",
    "redis://:{p}@h:6379/1/2",
    "REDIS://:{p}@H",
    "redis://:{p}@h\r",
    " redis://:{p}@h",
    "redis://:{p}@h\t",
    "redis+cluster://:{p}@h1:7000,h2:7001",
    "redis+cluster://u:{e}@h1:7000",
    "rediss+cluster://:{p}@h1:7000#insecure",
    "redis+cluster://:{p}@h1:7000,,h2",
    "redis+cluster://:{p}@h1:7000/2",
    "redis+cluster://:{p}@h1:port",
    "redis+cluster://:{p}@h1:7000?x=1",
    "rediss+cluster://:{p}@h1:7000#frag",
    "redis+cluster:/\t/:{p}@h1:7000",
];

/// Percent-encodes every byte, the way a careful user writes an odd password.
fn encode_all(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No password of 6 or more characters, in any shape of URL, valid or not, ever
    /// appears in `Display`, `Debug` or the error, raw, encoded or as the driver
    /// decoded it.
    #[test]
    fn no_password_is_ever_shown(
        password in "[A-Z0-9]{3}[a-zA-Z0-9#?/@%:&=+;\\[\\] \t\n\r~-]{0,8}[A-Z0-9]{3}",
        shape in prop::sample::select(SHAPES),
    ) {
        let encoded = encode_all(&password);
        let input = shape.replace("{p}", &password).replace("{e}", &encoded);
        let shown = shown(&input);
        prop_assert!(!shown.contains(&password), "{:?}: {}", input, shown);
        prop_assert!(!shown.contains(&encoded), "{:?}: {}", input, shown);
        if let Ok(url) = RedisUrl::parse(&input)
            && let Some(used) = url.info.redis_settings().password().filter(|p| p.len() >= 6)
        {
            prop_assert!(!shown.contains(used), "{:?}: {}", input, shown);
        }
    }

    /// Whatever the input, the password the driver would use is not in the printed form.
    #[test]
    fn the_drivers_password_is_never_printed(input in "\\PC{0,40}|[a-z+]{1,10}://[ -~]{0,40}") {
        if let Ok(url) = RedisUrl::parse(&input) {
            let shown = format!("{url} {url:?}");
            if let Some(used) = url.info.redis_settings().password().filter(|p| p.len() >= 6) {
                prop_assert!(!shown.contains(used), "{:?}: {}", input, shown);
            }
        }
    }
}
