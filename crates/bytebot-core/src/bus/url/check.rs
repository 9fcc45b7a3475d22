//! The rules a Redis URL must pass, the driver's connection settings built from what
//! passed them, and the printed form built from the same parts.
//!
//! Nothing here ever copies the input into a message: a problem is described by which
//! part is wrong ("the port is not a number from 1 to 65535"), never by quoting it,
//! because a malformed URL may have its password anywhere. The driver never sees the
//! input either: it gets the [`redis::ConnectionInfo`] made from the checked parts, so
//! what it uses as the password is exactly what the printed form hides.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

/// Schemes of a TCP connection; the ones ending in `s` use TLS.
const TCP_SCHEMES: [&str; 4] = ["redis", "rediss", "valkey", "valkeys"];
/// Schemes of a Unix socket connection.
const UNIX_SCHEMES: [&str; 3] = ["redis+unix", "unix", "valkey+unix"];

/// What the printed form may show as is of a user name or a socket path; the rest is
/// percent-encoded, so a decoded newline or escape sequence cannot forge a log line.
const PRINTABLE_AS_IS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// The same for a socket path, which keeps its slashes.
const PATH_AS_IS: &AsciiSet = &PRINTABLE_AS_IS.remove(b'/');

/// What a hint about reserved characters in a password says.
const ESCAPE_HINT: &str =
    "a password containing '#', '?', '/' or '@' must percent-encode them (%23, %3F, %2F, %40)";

/// A URL that passed every rule: the driver's settings and the form to print.
pub(super) struct Checked {
    pub(super) info: ConnectionInfo,
    pub(super) printed: String,
    pub(super) has_password: bool,
}

/// Checks `input` and builds its settings and printed form; the error says what is
/// wrong without quoting the input.
pub(super) fn check(input: &str) -> Result<Checked, String> {
    if input.is_empty() {
        return Err("it is empty".into());
    }
    if let Some((position, character)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "character {} is {} (none may appear in a URL; percent-encode it, e.g. %20 for a space)",
            position + 1,
            describe(character)
        ));
    }
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err(
            "it does not start with a scheme: write redis://host[:port], rediss://host (TLS) or redis+unix:///path/to/redis.sock"
                .into(),
        );
    };
    let scheme = scheme.to_ascii_lowercase();
    if TCP_SCHEMES.contains(&scheme.as_str()) {
        check_tcp(input, &scheme, rest)
    } else if UNIX_SCHEMES.contains(&scheme.as_str()) {
        check_unix(input, &scheme)
    } else {
        // The scheme is not repeated either: it is still part of the input.
        Err(
            "unsupported scheme (use redis://, rediss:// for TLS, or redis+unix:// for a socket)"
                .into(),
        )
    }
}

/// `redis://[user[:password]@]host[:port][/db][?protocol=3]`, `rediss://...[#insecure]`.
fn check_tcp(input: &str, scheme: &str, rest: &str) -> Result<Checked, String> {
    // An unescaped '#', '?' or '/' in a password ends the authority early, and the
    // rest of the password becomes a path, query or fragment: say so plainly rather
    // than complain about what the parser made of it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if !rest[..authority_end].contains('@') && rest[authority_end..].contains('@') {
        return Err(format!(
            "an '@' comes after the host part ends (at a '/', '?' or '#'): {ESCAPE_HINT}"
        ));
    }
    let url = parse_url(input)?;
    let tls = matches!(scheme, "rediss" | "valkeys");

    let (host, printed_host) = match url.host() {
        None => return Err("the host is empty".into()),
        Some(::url::Host::Domain(domain)) => {
            let domain = check_domain(domain)?;
            (domain.clone(), domain)
        }
        Some(::url::Host::Ipv4(v4)) => check_ip(IpAddr::V4(v4), v4.to_string())?,
        Some(::url::Host::Ipv6(v6)) => check_ip(IpAddr::V6(v6), format!("[{v6}]"))?,
    };
    let port = match url.port() {
        Some(0) => return Err("the port is 0 (it must be a number from 1 to 65535)".into()),
        port => port,
    };

    let username = decode("the user name", url.username())?;
    let password = match url.password() {
        Some(password) => Some(decode("the password", password)?),
        None => None,
    };
    let password = password.filter(|password| !password.is_empty());

    let db = match decode("the database", url.path())?.as_str() {
        "" | "/" => None,
        path => Some(parse_db(path.strip_prefix('/').unwrap_or(path)).map_err(|()| {
            format!("the database (the path after the host) must be a number, e.g. /0; {ESCAPE_HINT}")
        })?),
    };

    for (index, (key, value)) in url.query_pairs().enumerate() {
        check_no_controls("a query parameter", &key)?;
        match key.as_ref() {
            "protocol" => check_protocol(&value)?,
            "db" => {
                return Err(
                    "a redis:// URL takes the database as a path (redis://host/2), not ?db=".into(),
                );
            }
            _ => {
                return Err(format!(
                    "query parameter {} is not one a {scheme}:// URL takes (only protocol=3; the password goes in {scheme}://:password@host); {ESCAPE_HINT}",
                    index + 1
                ));
            }
        }
    }

    let insecure = match url.fragment() {
        None | Some("") => false,
        Some("insecure") if tls => true,
        Some(_) if tls => {
            return Err(format!(
                "only #insecure may follow a {scheme}:// URL; {ESCAPE_HINT}"
            ));
        }
        Some(_) => {
            return Err(format!(
                "only rediss:// URLs take a '#' (#insecure); {ESCAPE_HINT}"
            ));
        }
    };

    let addr = if tls {
        ConnectionAddr::TcpTls {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            insecure,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host, port.unwrap_or(DEFAULT_PORT))
    };

    let mut printed = format!("{scheme}://");
    if !username.is_empty() || password.is_some() {
        printed.extend(utf8_percent_encode(&username, PRINTABLE_AS_IS));
        if password.is_some() {
            printed.push_str(":***");
        }
        printed.push('@');
    }
    printed.push_str(&printed_host);
    if let Some(port) = port {
        printed.push_str(&format!(":{port}"));
    }
    if let Some(db) = db {
        printed.push_str(&format!("/{db}"));
    }
    if insecure {
        printed.push_str("#insecure");
    }
    let username = Some(username).filter(|username| !username.is_empty());
    finish(addr, db, username, password, printed)
}

/// `redis+unix:///path/to/socket[?db=N][&user=U][&pass=P][&protocol=3]`.
fn check_unix(input: &str, scheme: &str) -> Result<Checked, String> {
    let url = parse_url(input)?;
    if url.host_str().is_some_and(|host| !host.is_empty()) || url.port().is_some() {
        return Err(format!(
            "a socket URL has no host: write {scheme}:///path/to/redis.sock (three slashes)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "a socket URL takes the user and password as ?user=...&pass=..., not before the path ({scheme}:///path?pass=...)"
        ));
    }
    let path = decode("the socket path", url.path())?;
    if path.len() < 2 || !path.starts_with('/') {
        return Err(format!(
            "the socket path is empty: write {scheme}:///path/to/redis.sock"
        ));
    }
    if url.fragment().is_some() {
        return Err(
            "a socket URL takes no '#'; a password goes in ?pass=... (percent-encode '#' and '&' in it as %23 and %26)"
                .into(),
        );
    }

    let mut db = None;
    let mut username = None;
    let mut password = None;
    let mut protocol_seen = false;
    for (index, (key, value)) in url.query_pairs().enumerate() {
        check_no_controls("a query parameter", &key)?;
        let seen = match key.as_ref() {
            "db" => {
                let seen = db.is_some();
                db = Some(parse_db(&value).map_err(|()| "db= must be a number, e.g. db=0")?);
                seen
            }
            "user" => {
                check_no_controls("the user name", &value)?;
                if value.is_empty() {
                    return Err("user= is empty".into());
                }
                username.replace(value.into_owned()).is_some()
            }
            "pass" => {
                check_no_controls("the password", &value)?;
                if value.is_empty() {
                    return Err("pass= is empty".into());
                }
                password.replace(value.into_owned()).is_some()
            }
            "protocol" => {
                check_protocol(&value)?;
                std::mem::replace(&mut protocol_seen, true)
            }
            "password" => {
                return Err("a socket URL takes the password as pass=..., not password=...".into());
            }
            _ => {
                return Err(format!(
                    "query parameter {} is not one a socket URL takes (db, user, pass, protocol; percent-encode '&' and '#' in a password as %26 and %23)",
                    index + 1
                ));
            }
        };
        if seen {
            return Err(format!("{key}= is given twice"));
        }
    }

    let mut printed = format!("{scheme}://");
    printed.extend(utf8_percent_encode(&path, PATH_AS_IS));
    let mut query = Vec::new();
    if let Some(db) = db {
        query.push(format!("db={db}"));
    }
    if let Some(username) = &username {
        query.push(format!(
            "user={}",
            utf8_percent_encode(username, PRINTABLE_AS_IS)
        ));
    }
    if password.is_some() {
        query.push("pass=***".to_owned());
    }
    if !query.is_empty() {
        printed.push('?');
        printed.push_str(&query.join("&"));
    }
    finish(
        ConnectionAddr::Unix(PathBuf::from(path)),
        db,
        username,
        password,
        printed,
    )
}

/// The port of `redis://host` without one.
const DEFAULT_PORT: u16 = 6379;

/// The driver's settings from the checked parts.
fn finish(
    addr: ConnectionAddr,
    db: Option<i64>,
    username: Option<String>,
    password: Option<String>,
    printed: String,
) -> Result<Checked, String> {
    let mut settings = RedisConnectionInfo::default().set_db(db.unwrap_or(0));
    if let Some(username) = username {
        settings = settings.set_username(username);
    }
    let has_password = password.is_some();
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    let info = addr
        .into_connection_info()
        .map_err(|_| "the redis driver refused the address".to_owned())?
        .set_redis_settings(settings);
    Ok(Checked {
        info,
        printed,
        has_password,
    })
}

/// Parses with the `url` crate, whose error messages are fixed texts that never quote
/// the input.
fn parse_url(input: &str) -> Result<::url::Url, String> {
    use ::url::ParseError;
    ::url::Url::parse(input).map_err(|err| match err {
        ParseError::EmptyHost => "the host is empty".to_owned(),
        ParseError::InvalidPort => "the port is not a number from 1 to 65535".to_owned(),
        ParseError::InvalidIpv6Address => {
            "the host is not a valid IPv6 address (write it in brackets: [::1]:6379)".to_owned()
        }
        ParseError::InvalidIpv4Address => "the host is not a valid IPv4 address".to_owned(),
        ParseError::InvalidDomainCharacter | ParseError::IdnaError => {
            "the host contains a character a host name cannot have".to_owned()
        }
        other => format!("it is not a valid URL ({other})"),
    })
}

/// A host name: letters, digits, '-', '_' and '.', once percent-escapes are decoded.
fn check_domain(domain: &str) -> Result<String, String> {
    let decoded = decode("the host", domain)?;
    if decoded.is_empty() {
        return Err("the host is empty".into());
    }
    // The URL parser leaves IPv4 hosts of a non-web scheme as names.
    if let Ok(ip) = decoded.parse::<IpAddr>() {
        return check_ip(ip, decoded.clone()).map(|(host, _)| host);
    }
    if !decoded
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "the host contains a character a host name cannot have (letters, digits, '-', '_' and '.')"
                .into(),
        );
    }
    Ok(decoded.to_ascii_lowercase())
}

/// An IP address to connect to (not a wildcard one), and how to print it.
fn check_ip(ip: IpAddr, printed: String) -> Result<(String, String), String> {
    if ip.is_unspecified() {
        return Err(
            "the host is 0.0.0.0 or ::, an address to listen on, not one to connect to (use 127.0.0.1 or ::1)"
                .into(),
        );
    }
    Ok((ip.to_string(), printed))
}

/// A database number: decimal digits only.
fn parse_db(text: &str) -> Result<i64, ()> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    text.parse().map_err(|_| ())
}

/// Bytebot always speaks RESP3, so `protocol=` may only ask for it.
fn check_protocol(value: &str) -> Result<(), String> {
    match value {
        "3" | "resp3" => Ok(()),
        _ => Err("protocol= may only be 3 (Bytebot always speaks RESP3, Redis 6 or newer)".into()),
    }
}

/// Percent-decodes one part; it must be UTF-8 without control characters.
fn decode(what: &str, raw: &str) -> Result<String, String> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| format!("{what} is not valid UTF-8 once percent-decoded"))?;
    check_no_controls(what, &decoded)?;
    Ok(decoded.into_owned())
}

/// Refuses control characters (tab, newline, carriage return, escape...) in a decoded
/// part.
fn check_no_controls(what: &str, decoded: &str) -> Result<(), String> {
    match decoded.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "{what} contains {} once percent-decoded",
            describe(c)
        )),
        None => Ok(()),
    }
}

/// Names a character the URL may not contain, without showing the URL.
fn describe(c: char) -> Cow<'static, str> {
    match c {
        '\t' => "a tab".into(),
        '\n' => "a line feed".into(),
        '\r' => "a carriage return".into(),
        ' ' => "a space".into(),
        c if c.is_control() => format!("a control character (U+{:04X})", c as u32).into(),
        c => format!("a whitespace character (U+{:04X})", c as u32).into(),
    }
}
