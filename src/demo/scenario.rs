//! The demo's two stories, played by simulated people through the simulator's user API
//! (which fires real, signed webhooks at the service).

use super::world::DemoWorld;
use std::path::Path;

/// People who are not in the configuration's directory.
pub const PEOPLE: &[&str] = &[
    "demo-csm",
    "demo-sa",
    "demo-ae",
    "demo-acme-dev",
    "demo-partner",
    "demo-visitor",
];

/// Fills an issue template: `Field: <!-- … -->` lines and the comment under `## Field`
/// headings get the given values; everything else (quick actions included) stays.
pub fn fill_template(template: &str, values: &[(&str, &str)]) -> String {
    let find = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.trim()))
            .map(|(_, v)| *v)
    };
    let mut out = Vec::new();
    let mut pending: Option<&str> = None;
    for line in template.lines() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix("## ") {
            pending = find(h);
            out.push(line.to_string());
            continue;
        }
        if let Some(v) = pending
            && t.starts_with("<!--")
            && t.ends_with("-->")
        {
            out.push(v.to_string());
            pending = None;
            continue;
        }
        if let Some((name, rest)) = line.split_once(':')
            && rest.trim().starts_with("<!--")
            && let Some(v) = find(name)
        {
            out.push(format!("{name}: {v}"));
            continue;
        }
        out.push(line.to_string());
    }
    out.join("\n")
}

fn read_template(dir: &Path, name: &str) -> anyhow::Result<String> {
    let p = dir.join(name);
    std::fs::read_to_string(&p)
        .map_err(|e| anyhow::anyhow!("cannot read the issue template {}: {e}", p.display()))
}

fn sim_err(e: crate::sim::SimError) -> anyhow::Error {
    anyhow::anyhow!("simulated GitLab: {e}")
}

/// An opportunity through every Co-Create stage, with one premature stage on the way.
pub async fn cocreate(
    w: &DemoWorld,
    templates: &Path,
    log: &mut Vec<String>,
) -> anyhow::Result<()> {
    let opp = w.project("opportunities")?;
    let cs = w.role_user("contributor-success")?;
    let em = w.role_user("engineering-manager")?;
    let pm = w
        .engine
        .config
        .directory
        .product_groups
        .get("group::source code")
        .and_then(|g| g.pms.first().cloned())
        .ok_or_else(|| anyhow::anyhow!("no PM for `group::source code` in the directory"))?;
    let description = fill_template(
        &read_template(templates, "co-create-opportunity.md")?,
        &[
            ("Customer", "Acme Corp"),
            (
                "Problem",
                "Merge request pipelines take 40 minutes; Acme wants to contribute smarter rebase handling.",
            ),
            (
                "Willingness to contribute",
                "High: their platform team has budget for a quarter",
            ),
            (
                "Ability to contribute",
                "3 engineers with Ruby and Go experience",
            ),
            ("CSM", "@demo-csm"),
            ("SA", "@demo-sa"),
            ("AE", "@demo-ae"),
            ("Customer engineers", "@demo-acme-dev"),
            ("Allocated engineer", "@example-eng-manager"),
        ],
    ) + "\n/label ~\"group::source code\"\n";
    let iid = w
        .sim
        .as_user("demo-csm")
        .create_issue(
            opp,
            "Acme Corp: faster merge request pipelines",
            &description,
            &[],
        )
        .map_err(sim_err)?;
    log.push(format!(
        "@demo-csm opened co-create/opportunities#{iid} from the opportunity template (its quick action applies cocreate::identified)"
    ));
    w.settle().await?;

    let steps: Vec<(String, &str)> = vec![
        (cs.clone(), "cocreate::qualification"),
        (cs.clone(), "cocreate::triage"),
    ];
    for (who, label) in &steps {
        w.sim
            .as_user(who)
            .add_labels(opp, iid, &[label])
            .map_err(sim_err)?;
        log.push(format!("@{who} applied ~\"{label}\""));
        w.settle().await?;
    }
    w.sim
        .as_user(&pm)
        .comment(
            opp,
            iid,
            "Looks aligned with our roadmap.\n\n@labelflow buy-in approve",
        )
        .map_err(sim_err)?;
    log.push(format!(
        "@{pm} (PM of group::source code) commented `@labelflow buy-in approve`"
    ));
    w.settle().await?;

    for (who, label) in [
        (cs.as_str(), "cocreate-pathway::major"),
        ("demo-csm", "cocreate::presented"),
        (em.as_str(), "engineering::allocated"),
        (cs.as_str(), "cocreate::presented"),
        (cs.as_str(), "cocreate::onboarding"),
        (cs.as_str(), "cocreate::onsite"),
    ] {
        w.sim
            .as_user(who)
            .add_labels(opp, iid, &[label])
            .map_err(sim_err)?;
        log.push(format!("@{who} applied ~\"{label}\""));
        w.settle().await?;
    }
    Ok(())
}

/// Inbound partnership, partner type, license request, MDF request and an acquisition inquiry.
pub async fn alliances(
    w: &DemoWorld,
    templates: &Path,
    log: &mut Vec<String>,
) -> anyhow::Result<()> {
    let project = w.project("alliances")?;
    let lead = w.role_user("alliances")?;
    let production = w.role_user("production-team-lead")?;

    let inbound = fill_template(
        &read_template(templates, "alliance-inbound-request.md")?,
        &[
            ("Partner", "Nimbus Cloud"),
            ("Partner contact", "Dana Doe, dana@nimbus.example"),
            (
                "Summary",
                "Nimbus wants a GitLab CI integration for its managed Kubernetes.",
            ),
            (
                "Technical integration",
                "A CI/CD component that deploys to Nimbus clusters.",
            ),
            (
                "End-user benefits",
                "One-click deployments from GitLab to Nimbus.",
            ),
            (
                "Business relationship",
                "Technology partnership with joint marketing.",
            ),
        ],
    );
    let iid = w
        .sim
        .as_user("demo-partner")
        .create_issue(project, "Partnership request: Nimbus Cloud", &inbound, &[])
        .map_err(sim_err)?;
    log.push(format!(
        "@demo-partner opened alliances/partners#{iid} from the inbound request template"
    ));
    w.settle().await?;
    w.sim
        .as_user(&lead)
        .comment(project, iid, "@labelflow claim")
        .map_err(sim_err)?;
    log.push(format!("@{lead} commented `@labelflow claim`"));
    w.settle().await?;
    w.sim
        .as_user(&lead)
        .add_labels(project, iid, &["partner-type::cloud-platform"])
        .map_err(sim_err)?;
    log.push(format!("@{lead} applied ~\"partner-type::cloud-platform\""));
    w.settle().await?;

    let license_template = read_template(templates, "license-request.md")?;
    let license_request = |seats: &str| {
        fill_template(
            &license_template,
            &[
                ("Partner", "Nimbus Cloud"),
                ("Seats", seats),
                (
                    "Purpose",
                    "Build and test the CI/CD component against a self-managed instance.",
                ),
            ],
        )
    };
    let license = license_request("11");
    let lic = w
        .sim
        .as_user("demo-partner")
        .create_issue(project, "License request: Nimbus Cloud", &license, &[])
        .map_err(sim_err)?;
    log.push(format!(
        "@demo-partner opened alliances/partners#{lic} asking for 11 seats"
    ));
    w.settle().await?;
    let fixed = license_request("4");
    w.sim
        .as_user("demo-partner")
        .edit_description(project, lic, &strip_quick_actions(&fixed))
        .map_err(sim_err)?;
    w.sim
        .as_user("demo-partner")
        .remove_labels(project, lic, &["license::needs-revision"])
        .map_err(sim_err)?;
    w.sim
        .as_user("demo-partner")
        .add_labels(project, lic, &["license::request"])
        .map_err(sim_err)?;
    log.push(format!(
        "@demo-partner lowered the seats to 4 and applied ~\"license::request\" again on #{lic}"
    ));
    w.settle().await?;

    let mdf = fill_template(
        &read_template(templates, "mdf-request.md")?,
        &[
            ("Campaign topic", "GitLab on Nimbus Cloud workshop series"),
            ("Timeline", "2026-01-15 to 2026-03-31"),
            ("Budget", "USD 12,000"),
            ("Cloud partner", "Nimbus Cloud"),
            ("Marketing targets", "4 workshops, 200 attendees, EMEA"),
        ],
    );
    let m = w
        .sim
        .as_user(&lead)
        .create_issue(project, "MDF: Nimbus Cloud workshops", &mdf, &[])
        .map_err(sim_err)?;
    log.push(format!(
        "@{lead} opened alliances/partners#{m} from the MDF request template"
    ));
    w.settle().await?;
    for (who, label) in [
        (lead.as_str(), "mdf::partner-approved"),
        (lead.as_str(), "mdf::credit-acknowledged"),
        (production.as_str(), "mdf::credit-acknowledged"),
        (production.as_str(), "mdf::done"),
    ] {
        w.sim
            .as_user(who)
            .add_labels(project, m, &[label])
            .map_err(sim_err)?;
        log.push(format!("@{who} applied ~\"{label}\" on #{m}"));
        w.settle().await?;
    }

    let acq = fill_template(
        &read_template(templates, "acquisition-inquiry.md")?,
        &[
            ("Company", "Tiny Tools Ltd"),
            ("Website", "https://tinytools.example"),
            ("Contact", "Sam Roe, sam@tinytools.example"),
            (
                "Inquiry",
                "We would like to discuss an acquisition of our code review product.",
            ),
        ],
    );
    let a = w
        .sim
        .as_user("demo-visitor")
        .create_issue(project, "Acquisition inquiry: Tiny Tools", &acq, &[])
        .map_err(sim_err)?;
    log.push(format!(
        "@demo-visitor opened alliances/partners#{a} from the acquisition template"
    ));
    w.settle().await?;
    Ok(())
}

/// A description edit does not run quick actions again in GitLab's UI flow we model here;
/// keep the text only.
fn strip_quick_actions(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('/'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_lines_and_sections() {
        let t = "<!--\nheader\n-->\n\n## Customer\n\n<!-- name -->\n\nCSM: <!-- @user -->\nAE: <!-- x -->\n/label ~\"a\"";
        let f = fill_template(t, &[("Customer", "Acme"), ("CSM", "@jane")]);
        assert_eq!(
            f,
            "<!--\nheader\n-->\n\n## Customer\n\nAcme\n\nCSM: @jane\nAE: <!-- x -->\n/label ~\"a\""
        );
    }
}
