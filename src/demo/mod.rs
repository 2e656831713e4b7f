//! `labelflow demo`: the real service (HTTP ingest, store, worker, `gitlab` client) against
//! the built-in simulated GitLab, driving a Co-Create and an Alliances scenario over HTTP and
//! printing the resulting tracker as a timeline.

mod cla_registry;
mod scenario;

pub use cla_registry::write_registry;
pub use scenario::fill_template;
pub use world::{DemoWorld, settle};
mod timeline;
mod world;

use std::path::{Path, PathBuf};

/// Runs both scenarios and prints the timeline. Returns the process exit code.
pub async fn run(config: PathBuf) -> anyhow::Result<i32> {
    let world = DemoWorld::start(&config, scenario::PEOPLE).await?;
    println!(
        "labelflow demo: simulated GitLab at {}, labelflow serving webhooks at http://{}/webhooks/gitlab",
        world.sim.base_url(),
        world.service.addr
    );
    println!("configuration: {}\n", config.display());
    let templates = config
        .parent()
        .unwrap_or(Path::new("."))
        .join(&world.engine.config.templates_dir)
        .join("issue_templates");
    let mut script = Vec::new();
    script.extend(cla_registry::seed(&world)?);
    scenario::cocreate(&world, &templates, &mut script).await?;
    scenario::alliances(&world, &templates, &mut script).await?;
    world.settle().await?;

    println!("What people did:");
    for line in &script {
        println!("  {line}");
    }
    println!();
    timeline::print(&world);

    let stats = world.service.store.queue_stats().await?;
    println!(
        "\ninbox: {} events processed, {} parked, {} pending",
        stats.done, stats.parked, stats.pending
    );
    let parked = stats.parked;
    world.service.shutdown().await;
    if parked > 0 {
        eprintln!("some events were parked: the demo did not go as planned");
        return Ok(1);
    }
    Ok(0)
}
