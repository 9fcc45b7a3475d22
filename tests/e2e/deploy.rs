//! The deployment files (docker-compose.yml, fly.toml, deploy/fly/*.toml, Dockerfile)
//! checked against the programs they run. No Docker engine is needed: a service that
//! names a missing binary or sets a variable nobody reads fails here, not in production.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use bytebot_e2e::{binaries, workspace_root};
use yaml_rust2::{Yaml, YamlLoader};

/// The programs the image ships, with the path of each built binary.
fn programs() -> BTreeMap<&'static str, PathBuf> {
    let binaries = binaries();
    BTreeMap::from([
        ("gateway-discord", binaries.gateway_discord.clone()),
        ("gateway-irc", binaries.gateway_irc.clone()),
        ("example-subscriber", binaries.example_subscriber.clone()),
        ("router-tools", binaries.router_tools.clone()),
    ])
}

/// The environment variables `program` reads, as its `--help` lists them: clap's
/// `[env: NAME]` for flags, and the variables its help text names (`DISCORD_TOKEN`,
/// `RUST_LOG`).
fn variables_read_by(program: &Path) -> String {
    let output = Command::new(program)
        .arg("--help")
        .output()
        .expect("running --help");
    assert!(
        output.status.success(),
        "{} --help failed",
        program.display()
    );
    String::from_utf8(output.stdout).expect("utf-8 help")
}

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {relative}: {err}"))
}

/// Asserts every variable in `variables` is one `program` documents reading.
fn assert_reads_all(place: &str, program: &str, variables: &BTreeSet<String>) {
    let help = variables_read_by(&programs()[program]);
    for variable in variables {
        assert!(
            help.contains(variable.as_str()),
            "{place} sets {variable} for {program}, which does not read it (not in --help)"
        );
    }
}

fn yaml_strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect(),
        Yaml::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Every compose service built from our image runs one of our binaries, with only
/// variables that binary reads; Redis is healthchecked and the daemons wait for it.
#[test]
fn compose_services_run_our_binaries_with_variables_they_read() {
    let documents = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    let services = documents[0]["services"].as_hash().expect("a services map");
    let mut programs_run = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().expect("service name");
        if name == "redis" {
            assert!(
                !service["healthcheck"].is_badvalue(),
                "redis needs a healthcheck for depends_on: service_healthy"
            );
            continue;
        }
        if name == CHECK_TOKEN_SERVICE {
            continue; // a shell one-liner, tried below
        }
        assert_eq!(
            service["image"].as_str(),
            Some("bytebot:local"),
            "{name} runs our image"
        );
        let command = if service["entrypoint"].is_badvalue() {
            yaml_strings(&service["command"])
        } else {
            yaml_strings(&service["entrypoint"])
        };
        let program = command.first().expect("a command").clone();
        assert!(
            programs().contains_key(program.as_str()),
            "service {name} runs {program}, which the workspace does not build"
        );
        let variables: BTreeSet<String> = service["environment"]
            .as_hash()
            .expect("an environment map")
            .keys()
            .map(|key| key.as_str().expect("variable name").to_owned())
            .collect();
        assert_reads_all(&format!("compose service {name}"), &program, &variables);
        assert_eq!(
            service["depends_on"]["redis"]["condition"].as_str(),
            Some("service_healthy"),
            "{name} waits for a healthy redis"
        );
        if program != "router-tools" {
            assert_eq!(service["restart"].as_str(), Some("on-failure"), "{name}");
            // Distroless has no curl: the daemon's own subcommand asks its /readyz
            // (tests/e2e/operate.rs runs it against the real daemons).
            assert_eq!(
                yaml_strings(&service["healthcheck"]["test"]),
                ["CMD", program.as_str(), "healthcheck"],
                "{name}: a healthcheck through the binary"
            );
            assert!(
                !service["environment"]["BYTEBOT_HTTP_ADDR"].is_badvalue(),
                "{name}: the healthcheck asks the listener at BYTEBOT_HTTP_ADDR"
            );
        }
        programs_run.insert(program);
    }
    assert_eq!(
        programs_run,
        programs().keys().map(|p| p.to_string()).collect(),
        "every program has a compose service"
    );
    assert_eq!(
        services[&Yaml::from_str("example-subscriber")]["depends_on"]["gateway-discord"]
            ["condition"]
            .as_str(),
        Some("service_healthy"),
        "the bot starts once the gateway is ready, not merely started"
    );
}

/// The one-shot service `up` runs before the gateway to refuse a missing token.
const CHECK_TOKEN_SERVICE: &str = "check-discord-token";

/// Runs the check service's shell command here, as its container would: compose turns
/// `$$` into `$`, and the service gets `DISCORD_TOKEN` (empty when unset).
fn run_token_check(command: &str, token: Option<&str>) -> std::process::Output {
    let mut check = Command::new("sh");
    check.arg("-c").arg(command.replace("$$", "$"));
    check.env_remove("DISCORD_TOKEN");
    if let Some(token) = token {
        check.env("DISCORD_TOKEN", token);
    }
    check.output().expect("running sh")
}

/// Without `DISCORD_TOKEN` only `up` refuses, with one line saying what to do; every
/// other compose command (`down`, `ps`, `run --rm router-tools doctor`) works. A
/// file-wide `${DISCORD_TOKEN:?...}` would make compose refuse them all, and a gateway
/// started without the token would crash-loop instead.
#[test]
fn a_missing_token_stops_up_once_and_nothing_else() {
    let text = read("docker-compose.yml");
    assert!(
        !text.contains(":?"),
        "a `${{VAR:?...}}` check applies to every compose command, `down` included"
    );
    let documents = YamlLoader::load_from_str(&text).expect("valid YAML");
    let services = &documents[0]["services"];
    let check = &services[CHECK_TOKEN_SERVICE];
    assert!(!check.is_badvalue(), "no {CHECK_TOKEN_SERVICE} service");
    assert_eq!(
        yaml_strings(&check["entrypoint"]),
        ["/bin/sh", "-c"],
        "{CHECK_TOKEN_SERVICE}"
    );
    assert_eq!(
        check["environment"]["DISCORD_TOKEN"].as_str(),
        Some("${DISCORD_TOKEN:-}")
    );
    assert_eq!(check["restart"].as_str(), Some("no"));
    let command = match &check["command"] {
        Yaml::Array(items) if items.len() == 1 => items[0].as_str().expect("a string"),
        other => panic!("{CHECK_TOKEN_SERVICE}: one shell command expected, got {other:?}"),
    };
    assert!(
        check["depends_on"].is_badvalue(),
        "the check must not wait for anything"
    );

    for token in [None, Some(""), Some("  \t")] {
        let refused = run_token_check(command, token);
        assert_eq!(refused.status.code(), Some(1), "token {token:?}");
        assert_eq!(
            stderr_text(&refused),
            "DISCORD_TOKEN is not set - copy .env.example to .env and put your bot token in it\n",
            "token {token:?}"
        );
        assert!(refused.stdout.is_empty());
    }
    let secret = "MTE5MDgw.secret-token";
    let accepted = run_token_check(command, Some(secret));
    assert!(accepted.status.success(), "{}", stderr_text(&accepted));
    assert!(accepted.stdout.is_empty() && accepted.stderr.is_empty());

    let gateway = &services["gateway-discord"];
    assert_eq!(
        gateway["depends_on"][CHECK_TOKEN_SERVICE]["condition"].as_str(),
        Some("service_completed_successfully"),
        "`up` must run the check before the gateway"
    );
    assert_eq!(
        gateway["environment"]["DISCORD_TOKEN"].as_str(),
        Some("${DISCORD_TOKEN:-}")
    );
    for (name, service) in services.as_hash().expect("services") {
        let name = name.as_str().expect("service name");
        if name != "gateway-discord" {
            assert!(
                service["depends_on"][CHECK_TOKEN_SERVICE].is_badvalue(),
                "{name} must work without the token"
            );
        }
    }
}

fn stderr_text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn toml_table(relative: &str) -> toml::Table {
    read(relative)
        .parse()
        .unwrap_or_else(|err| panic!("{relative} is not valid TOML: {err}"))
}

fn fly_configs() -> Vec<String> {
    let mut configs = vec!["fly.toml".to_owned()];
    for entry in std::fs::read_dir(workspace_root().join("deploy/fly")).expect("deploy/fly") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_name().expect("name").to_string_lossy();
            configs.push(format!("deploy/fly/{name}"));
        }
    }
    configs
}

/// Each Fly app: a Dockerfile that exists, one of our daemons, variables it reads,
/// no secret in `[env]`, SIGTERM with time to drain, health and metrics on the port
/// the daemon listens on, a small VM, and no public service.
#[test]
fn fly_apps_deploy_our_daemons_correctly() {
    let mut daemons = BTreeSet::new();
    for relative in fly_configs() {
        let config = toml_table(&relative);
        let directory = workspace_root().join(&relative);
        let directory = directory.parent().expect("a directory");

        let dockerfile = config["build"]["dockerfile"]
            .as_str()
            .expect("[build] dockerfile");
        assert!(
            directory.join(dockerfile).is_file(),
            "{relative}: {dockerfile} (relative to the config, as flyctl resolves it) does not exist"
        );

        let program = config["processes"]["app"]
            .as_str()
            .expect("[processes] app");
        assert!(
            ["gateway-discord", "gateway-irc", "example-subscriber"].contains(&program),
            "{relative} runs {program}, which is not one of our daemons"
        );
        daemons.insert(program.to_owned());

        let env = config["env"].as_table().expect("[env]");
        for secret in [
            "DISCORD_TOKEN",
            "REDIS_URL",
            "IRC_PASSWORD",
            "IRC_SASL_PASSWORD",
            "IRC_CHANNELS",
        ] {
            assert!(
                !env.contains_key(secret),
                "{relative}: {secret} is a secret: use `fly secrets set`, not [env]"
            );
        }
        let variables: BTreeSet<String> = env.keys().cloned().collect();
        assert_reads_all(&relative, program, &variables);

        assert_eq!(
            config["kill_signal"].as_str(),
            Some("SIGTERM"),
            "{relative}"
        );
        let kill_timeout = config["kill_timeout"].as_integer().expect("kill_timeout");
        assert!(
            kill_timeout > 10,
            "{relative}: kill_timeout {kill_timeout}s must exceed the 10 s drain"
        );

        let http_addr = env["BYTEBOT_HTTP_ADDR"]
            .as_str()
            .expect("BYTEBOT_HTTP_ADDR");
        let port: i64 = http_addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("a port in BYTEBOT_HTTP_ADDR");
        let check = config["checks"]["health"]
            .as_table()
            .expect("[checks.health]");
        assert_eq!(check["path"].as_str(), Some("/healthz"), "{relative}");
        assert_eq!(check["port"].as_integer(), Some(port), "{relative}");
        let ready = config["checks"]["ready"]
            .as_table()
            .expect("[checks.ready]");
        assert_eq!(ready["path"].as_str(), Some("/readyz"), "{relative}");
        assert_eq!(ready["port"].as_integer(), Some(port), "{relative}");
        assert_eq!(
            config["metrics"]["path"].as_str(),
            Some("/metrics"),
            "{relative}"
        );
        assert_eq!(
            config["metrics"]["port"].as_integer(),
            Some(port),
            "{relative}"
        );

        let vm = &config["vm"].as_array().expect("[[vm]]")[0];
        assert_eq!(vm["memory"].as_str(), Some("256mb"), "{relative}");
        assert!(
            !config.contains_key("http_service") && !config.contains_key("services"),
            "{relative}: the daemons serve nobody from outside"
        );
    }
    assert_eq!(
        daemons,
        BTreeSet::from([
            "gateway-discord".to_owned(),
            "gateway-irc".to_owned(),
            "example-subscriber".to_owned()
        ]),
        "one Fly app per daemon"
    );
}

/// The image builds every program from the locked dependencies with a cached
/// dependency layer, keeps secrets and build output out of the build context, and
/// runs as a non-root user.
#[test]
fn dockerfile_builds_every_program_cached_locked_and_unprivileged() {
    let dockerfile = read("Dockerfile");
    for program in programs().keys() {
        assert!(
            dockerfile.contains(&format!("-p {program}")),
            "the image does not build {program}"
        );
        assert!(
            dockerfile.contains(&format!("target/release/{program}")),
            "the image does not ship {program}"
        );
    }
    let build_lines: Vec<&str> = dockerfile
        .lines()
        .filter(|line| line.contains("cargo chef cook") || line.contains("cargo build"))
        .collect();
    assert_eq!(
        build_lines.len(),
        2,
        "a dependency layer, then our code: {build_lines:?}"
    );
    assert!(
        build_lines.iter().all(|line| line.contains("--locked")),
        "builds must use Cargo.lock: {build_lines:?}"
    );
    assert!(
        dockerfile
            .lines()
            .any(|line| line.starts_with("USER ") && !line.contains("root")),
        "the image runs as a non-root user"
    );
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|line| line.trim().trim_end_matches('/').to_owned())
        .collect();
    for path in ["target", ".git", ".env"] {
        assert!(
            ignored.iter().any(|line| line == path),
            ".dockerignore must exclude {path}"
        );
    }
}

/// Both build steps keep Cargo's registry and target/ in the same BuildKit caches, the
/// build goes through `deploy/touch-changed-sources` (whose manifest lives in the
/// cached target/), and cooking forgets that manifest (it builds stand-ins of our
/// crates into the cache, which must not be mistaken for the real ones).
#[test]
fn dockerfile_caches_cargo_and_rebuilds_what_changed() {
    let dockerfile = read("Dockerfile");
    // RUN instructions joined across their continuation lines, blanks collapsed.
    let runs: Vec<String> = dockerfile
        .replace("\\\n", " ")
        .lines()
        .filter(|line| line.starts_with("RUN "))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let build_runs: Vec<&String> = runs
        .iter()
        .filter(|run| run.contains("cargo chef cook") || run.contains("cargo build"))
        .collect();
    assert_eq!(build_runs.len(), 2, "{runs:#?}");
    for run in &build_runs {
        for mount in [
            "--mount=type=cache,id=bytebot-cargo-registry,target=/usr/local/cargo/registry",
            "--mount=type=cache,id=bytebot-target,target=/src/target,sharing=locked",
        ] {
            assert!(run.contains(mount), "{mount} missing from: {run}");
        }
    }
    let manifest = "target/bytebot-source-hashes";
    assert!(
        build_runs[0].contains("cargo chef cook")
            && build_runs[0].contains(&format!("rm -f {manifest}")),
        "{}",
        build_runs[0]
    );
    assert!(
        build_runs[1].contains(&format!(
            "deploy/touch-changed-sources {manifest} cargo build --release"
        )),
        "{}",
        build_runs[1]
    );
}

/// Writes `src/main.rs` of the scratch crate printing `word`, with an mtime of `year`.
fn write_main(dir: &Path, word: &str, year: i32) {
    let path = dir.join("src/main.rs");
    std::fs::write(&path, format!("fn main() {{ println!(\"{word}\"); }}\n")).unwrap();
    let seconds_since_epoch = u64::try_from(year - 1970).unwrap() * 365 * 24 * 3600;
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds_since_epoch);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// `cargo build` of the scratch crate in `dir`, through the script when `touch` is
/// set; then what the binary prints.
fn build_and_run(dir: &Path, touch: bool) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = if touch {
        let mut command = Command::new(workspace_root().join("deploy/touch-changed-sources"));
        command.arg("target/bytebot-source-hashes").arg(&cargo);
        command
    } else {
        Command::new(&cargo)
    };
    let output = command
        .args(["build", "--quiet", "--offline"])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .expect("running cargo build");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = Command::new(dir.join("target/debug/scratch"))
        .output()
        .expect("running the scratch binary");
    String::from_utf8(run.stdout).unwrap()
}

/// The mtime trap a cached target/ sets, sprung with real Cargo: a changed source whose
/// mtime is older than the last build is not rebuilt (a stale binary), unless the
/// build goes through `deploy/touch-changed-sources`; and an unchanged source with a
/// new mtime (a fresh clone) is not rebuilt through it.
#[test]
fn touch_changed_sources_makes_cargo_rebuild_exactly_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    write_main(dir.path(), "one", 2010);
    assert_eq!(build_and_run(dir.path(), true), "one\n");

    // A change that arrives with an old mtime: plain Cargo keeps the stale binary...
    write_main(dir.path(), "two", 2011);
    assert_eq!(
        build_and_run(dir.path(), false),
        "one\n",
        "the trap is not sprung"
    );
    // ...the script makes it rebuild.
    assert_eq!(build_and_run(dir.path(), true), "two\n");

    // Unchanged content with a brand new mtime keeps the last build (no rebuild).
    let binary = dir.path().join("target/debug/scratch");
    let built = std::fs::metadata(&binary).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("src/main.rs"))
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    assert_eq!(build_and_run(dir.path(), true), "two\n");
    assert_eq!(
        std::fs::metadata(&binary).unwrap().modified().unwrap(),
        built,
        "an unchanged source was rebuilt"
    );
}

/// example-subscriber's commands file passes `router-tools commands check`, the image
/// ships it, and compose and the gateway's Fly app point `BYTEBOT_COMMANDS` at the
/// place the image puts it.
#[test]
fn the_shipped_commands_file_is_valid_and_used_by_compose_and_fly() {
    let source = "deploy/example-subscriber.commands.json";
    let output = Command::new(&programs()["router-tools"])
        .args(["commands", "check"])
        .arg(workspace_root().join(source))
        .output()
        .expect("running router-tools commands check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr_text(&output));
    assert_eq!(
        stdout,
        "ok: 3 commands: 3 chat input (/ping, /roll, /slow)\n"
    );

    let dockerfile = read("Dockerfile");
    let in_image = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix(&format!("COPY {source} ")))
        .unwrap_or_else(|| panic!("the Dockerfile does not copy {source} into the image"))
        .trim()
        .to_owned();

    let documents = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    let compose = documents[0]["services"]["gateway-discord"]["environment"]["BYTEBOT_COMMANDS"]
        .as_str()
        .expect("compose sets BYTEBOT_COMMANDS for gateway-discord");
    assert_eq!(
        compose,
        format!("${{BYTEBOT_COMMANDS:-{in_image}}}"),
        "compose's default is the file in the image"
    );
    let fly = toml_table("fly.toml");
    assert_eq!(
        fly["env"]["BYTEBOT_COMMANDS"].as_str(),
        Some(in_image.as_str()),
        "fly.toml (the gateway's app) syncs the file in the image"
    );
}

/// A file that breaks Discord's rules: exit status 1 and one line per problem.
#[test]
fn commands_check_points_at_the_command_and_field() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("commands.json");
    std::fs::write(
        &path,
        r#"[{"name": "roll", "description": "dice", "options": [{"type": 3, "name": "dice"}]}]"#,
    )
    .unwrap();
    let output = Command::new(&programs()["router-tools"])
        .args(["commands", "check"])
        .arg(&path)
        .output()
        .expect("running router-tools commands check");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("  commands[0] /roll: options[0].description: required: a string of 1 to 100 characters\n"),
        "{stdout}"
    );
}
