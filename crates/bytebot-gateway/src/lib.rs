//! bytebot-gateway: the platform-neutral half of every Bytebot gateway.
//!
//! A gateway connects one chat platform to Redis. Everything that is the same on every
//! platform lives here, once; a platform crate (`gateway-discord`) only maps its
//! protocol to and from envelopes by implementing [`Adapter`]:
//!
//! | the runtime (this crate) | the adapter |
//! | --- | --- |
//! | PSUBSCRIBE `outbound.<platform>.*.*.*`, decoding, validation (bad input logged with its topic, counted, skipped) | [`Adapter::route`]: which room a topic addresses |
//! | cleaning text (C0 controls and DEL stripped, `\r\n` -> `\n`, blank refused) and splitting it at [`Adapter::text_limits`], `--max-parts` | [`Adapter::prepare`]: the platform request for one [`Action`] |
//! | one ordered worker and bounded queue per room, created on demand, retired when idle; rooms concurrent | [`Adapter::perform`]: send one request, return the platform's message ids or its error |
//! | receipts on `receipt.<platform>.*` for every envelope, counters for `/metrics` | |
//! | inbound: the loop guard, validation and publishing ([`Inbound`]) | turning platform events into [`InboundMessage`](bytebot_core::envelope::InboundMessage)s |
//! | the lifecycle: `/healthz` `/readyz` `/metrics` before login, drain on SIGTERM, flush | logging in, [`Adapter::close`] |
//!
//! A gateway's `run` is then:
//!
//! ```no_run
//! # use bytebot_gateway::{Adapter, GatewayConfig, GatewayRuntime, Inbound};
//! # async fn demo<A: Adapter>(
//! #     config: GatewayConfig,
//! #     login: impl AsyncFnOnce(Inbound) -> anyhow::Result<A>,
//! # ) -> anyhow::Result<()> {
//! let platform = bytebot_core::Platform::new("toy")?;
//! // The platform's readiness checks; the runtime adds Redis'.
//! let health = bytebot_daemon::Health::new().check("toy", || Ok(()));
//! // Listening and subscribed: "alive, not ready" while the platform logs in.
//! let runtime = GatewayRuntime::start(platform, config, health).await?;
//! runtime
//!     .run(
//!         async |inbound: Inbound| {
//!             let adapter = login(inbound).await?; // event handlers keep `inbound`
//!             // The platform connection: resolves only when it ended for good.
//!             let session = async { anyhow::anyhow!("the connection closed for good") };
//!             Ok((adapter, session))
//!         },
//!         bytebot_core::shutdown::signal(),
//!     )
//!     .await
//! # }
//! ```
//!
//! `GatewayArgs` holds the flags every gateway binary shares (`--redis-url`,
//! `--http-addr`, `--max-parts`...), to `#[command(flatten)]` next to the platform's own.
//!
//! # A complete adapter
//!
//! An in-memory chat platform, used by this crate's tests to prove ordering, splitting,
//! receipts, queue limits and shutdown without any real platform
//! (`tests/it/toy.rs`):
//!
//! ```rust,ignore
#![doc = include_str!("../tests/it/toy.rs")]
//! ```

mod adapter;
mod args;
mod counters;
mod inbound;
mod outbound;
mod rooms;
mod runtime;
pub mod text;

pub use adapter::{
    Action, Adapter, InteractionReply, PrepareError, Route, Text, TextLimits, local_error,
};
pub use args::GatewayArgs;
pub use counters::{GatewayCounters, GatewayStats, InteractionOutcome};
pub use inbound::{Inbound, Published};
pub use runtime::{DEFAULT_MAX_PARTS, GatewayConfig, GatewayRuntime, Limits};
