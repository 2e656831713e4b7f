//! Setup's write phase: the planned writes in order, each marked done as it succeeds. The
//! first failure stops the run; what came before stays done and what comes after is marked
//! not done, so the report says exactly what changed.

use super::access_api;
use super::api;
use super::hook_api::{self, HookSecrets};
use super::plan::{Op, Step};
use super::report::{Outcome, Status, WebhookTokens};
use super::{new_secret_token, new_signing_token};
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use secrecy::SecretString;

/// Runs the writes of `steps`; returns how the run ended and any new webhook tokens.
pub async fn run(
    client: &RetryingClient,
    project: u64,
    branch: &str,
    url: Option<&str>,
    steps: &mut [Step],
) -> (Outcome, Option<WebhookTokens>) {
    let mut tokens = None;
    let mut failed: Option<String> = None;
    for s in steps.iter_mut().filter(|s| s.item.verdict.is_write()) {
        if failed.is_some() {
            s.item.status = Status::NotDone;
            continue;
        }
        match write(client, project, branch, url, &s.op, &mut tokens).await {
            Ok(()) => s.item.status = Status::Done,
            Err(e) => {
                s.item.status = Status::Failed;
                failed = Some(format!(
                    "{} {} failed: {e}{}",
                    verb(&s.op),
                    s.item.name,
                    hint(&e)
                ));
            }
        }
    }
    match failed {
        None => (Outcome::Done, tokens),
        Some(error) => (Outcome::Failed { error }, tokens),
    }
}

fn verb(op: &Op) -> &'static str {
    match op {
        Op::CreateLabel { .. } => "creating label",
        Op::EditLabel { .. } => "updating label",
        Op::EditGroupLabel { .. } => "updating group label",
        Op::CreateFile { .. } | Op::UpdateFile { .. } => "committing",
        Op::CreateHook => "creating webhook",
        Op::FixHook { .. } => "fixing webhook",
        Op::None => "writing",
    }
}

/// Points at the usual cause of a refusal.
fn hint(e: &ForgeError) -> &'static str {
    match e {
        ForgeError::Permanent { message, .. } if message.contains("not allowed to push") => {
            " (the branch is protected: the bot needs the role allowed to push there, usually \
             Maintainer, or pass --branch)"
        }
        ForgeError::Permanent {
            status: 401 | 403, ..
        } => " (the bot's token or role does not allow this: see the README's bot-account step)",
        _ => "",
    }
}

async fn write(
    client: &RetryingClient,
    project: u64,
    branch: &str,
    url: Option<&str>,
    op: &Op,
    tokens: &mut Option<WebhookTokens>,
) -> Result<(), ForgeError> {
    match op {
        Op::None => Ok(()),
        Op::CreateLabel {
            name,
            color,
            description,
        } => api::create_label(client, project, name, color, description).await,
        Op::EditLabel {
            id,
            color,
            description,
        } => {
            api::edit_label(
                client,
                project,
                *id,
                color.as_deref(),
                description.as_deref(),
            )
            .await
        }
        Op::EditGroupLabel {
            group,
            id,
            color,
            description,
        } => {
            access_api::edit_group_label(
                client,
                group,
                *id,
                color.as_deref(),
                description.as_deref(),
            )
            .await
        }
        Op::CreateFile {
            path,
            content,
            start_branch,
        } => {
            let name = path.rsplit('/').next().unwrap_or(path);
            let message = format!("Add issue template {name} (labelflow setup)");
            let start = start_branch.as_deref();
            api::create_file(client, project, path, branch, start, content, &message).await
        }
        Op::UpdateFile {
            path,
            content,
            last_commit_id,
        } => {
            let name = path.rsplit('/').next().unwrap_or(path);
            let message = format!("Update issue template {name} (labelflow setup)");
            api::update_file(
                client,
                project,
                path,
                branch,
                content,
                &message,
                last_commit_id,
            )
            .await
        }
        Op::CreateHook | Op::FixHook { .. } => {
            let url = url.unwrap_or_default();
            let (signing, secret) = (new_signing_token(), new_secret_token());
            let secrets = HookSecrets {
                signing_token: &signing,
                secret_token: &secret,
            };
            match op {
                Op::FixHook { id, new_secrets } => {
                    let secrets = new_secrets.then_some(secrets);
                    let sets = secrets.is_some();
                    hook_api::fix_hook(client, project, *id, url, secrets).await?;
                    if !sets {
                        return Ok(());
                    }
                }
                _ => hook_api::create_hook(client, project, url, secrets).await?,
            }
            *tokens = Some(WebhookTokens {
                signing_token: SecretString::from(signing),
                secret_token: SecretString::from(secret),
            });
            Ok(())
        }
    }
}
