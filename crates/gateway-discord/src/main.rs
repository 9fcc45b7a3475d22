//! gateway-discord: not built yet (see its issue); the workspace reserves the name.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("gateway-discord is not implemented yet")
}
