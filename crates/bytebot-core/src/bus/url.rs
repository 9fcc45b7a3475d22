//! `RedisUrl`: a parsed Redis URL that cannot print its password.

use std::fmt;

use super::BusError;

/// The URL every Bytebot program uses when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A Redis URL: `redis://`, `rediss://` (TLS), or `redis+unix://` / `unix://` (a
/// socket), with optional user, password and database.
///
/// `Display` and `Debug` show it with the password replaced by `***`, so it is safe in
/// logs, errors and `--help`. The password is only handed to the Redis driver.
#[derive(Clone)]
pub struct RedisUrl {
    info: redis::ConnectionInfo,
    redacted: String,
}

impl RedisUrl {
    /// Parses and validates a URL. The error never contains the password.
    pub fn parse(input: &str) -> Result<RedisUrl, BusError> {
        let redacted = redact(input);
        let invalid = |reason: String| BusError::InvalidUrl {
            redacted: redacted.clone(),
            reason,
        };
        let url = ::url::Url::parse(input).map_err(|err| invalid(err.to_string()))?;
        match url.scheme() {
            "redis" | "rediss" | "redis+unix" | "unix" | "valkey" | "valkeys" | "valkey+unix" => {}
            other => {
                return Err(invalid(format!(
                    "unsupported scheme `{other}` (use redis://, rediss:// or redis+unix://)"
                )));
            }
        }
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|err| invalid(err.to_string()))?;
        Ok(RedisUrl { info, redacted })
    }

    /// The URL with its password (if any) replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.info.redis_settings().password().is_some()
    }

    pub(super) fn connection_info_resp3(&self) -> redis::ConnectionInfo {
        let settings = self
            .info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        self.info.clone().set_redis_settings(settings)
    }
}

impl Default for RedisUrl {
    fn default() -> RedisUrl {
        RedisUrl::parse(DEFAULT_REDIS_URL).expect("the default redis url is valid")
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = BusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RedisUrl::parse(s)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.redacted).finish()
    }
}

/// Replaces the password in a URL-ish string with `***`: the userinfo password
/// (`redis://user:pw@host`) and the `pass` / `password` query parameters
/// (`redis+unix:///sock?pass=pw`). Works on strings that do not parse too, so an
/// error about a malformed URL cannot leak the password either.
fn redact(input: &str) -> String {
    let mut out = input.to_owned();
    // Userinfo: between "://" and the last '@' before the path.
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo_end = authority_start + at;
            if let Some(colon) = out[authority_start..userinfo_end].find(':') {
                out.replace_range(authority_start + colon + 1..userinfo_end, "***");
            }
        }
    }
    // Query parameters.
    if let Some(query_start) = out.find('?') {
        let fragment_start = out[query_start..]
            .find('#')
            .map_or(out.len(), |i| query_start + i);
        let query = &out[query_start + 1..fragment_start];
        let redacted_query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if key.eq_ignore_ascii_case("pass") || key.eq_ignore_ascii_case("password") =>
                {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.replace_range(query_start + 1..fragment_start, &redacted_query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere_they_can_appear() {
        let cases = [
            ("redis://:s3cret@host:6379/2", "redis://:***@host:6379/2"),
            ("redis://alice:s3cret@host", "redis://alice:***@host"),
            (
                "rediss://alice:s3c@r3t@host:6380",
                "rediss://alice:***@host:6380",
            ),
            (
                "redis+unix:///run/redis.sock?db=1&pass=s3cret",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://alice@host", "redis://alice@host"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    /// The Go gateway logged the Redis password; ours must not be able to print it.
    #[test]
    fn display_debug_and_errors_never_show_the_password() {
        let url = RedisUrl::parse("redis://bot:s3cret@redis.internal:6379/1").unwrap();
        assert!(url.has_password());
        assert_eq!(url.to_string(), "redis://bot:***@redis.internal:6379/1");
        assert!(!format!("{url:?}").contains("s3cret"));

        for bad in [
            "redis://bot:s3cret@host:notaport",
            "http://bot:s3cret@host",
            "redis://bot:s3cret@host/notadb",
            "redis+unix://?pass=s3cret",
        ] {
            let err = RedisUrl::parse(bad).unwrap_err();
            let message = format!("{err} {err:?}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn all_supported_forms_parse() {
        for good in [
            DEFAULT_REDIS_URL,
            "redis://user:pw@host:1234/3",
            "rediss://host",
            "rediss://host#insecure",
            "redis+unix:///tmp/redis.sock?db=2",
            "unix:///tmp/redis.sock",
        ] {
            assert!(RedisUrl::parse(good).is_ok(), "{good}");
        }
        let err = RedisUrl::parse("localhost:6379").unwrap_err().to_string();
        assert!(err.starts_with("invalid redis url"), "{err}");
    }
}
