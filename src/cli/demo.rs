//! `labelflow demo` (filled in once the simulator lands).

#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

pub async fn run(_args: DemoArgs) -> anyhow::Result<i32> {
    anyhow::bail!("demo not ready")
}
