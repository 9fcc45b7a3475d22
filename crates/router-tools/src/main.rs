//! router-tools: not built yet (see its issue); the workspace reserves the name.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("router-tools is not implemented yet")
}
