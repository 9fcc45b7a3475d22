//! example-subscriber: not built yet (see its issue); the workspace reserves the name.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("example-subscriber is not implemented yet")
}
