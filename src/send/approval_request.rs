//! `approve --request`: each approver gets the campaign's test samples and a notice with a
//! signed link to its approval page (`bulletin serve`), through the project's relay.

use super::client::Client;
use super::SendError;
use crate::approval::Binding;
use crate::project::Prepared;
use crate::token::ApprovalRequest;

/// Mails each approver the samples and the link; returns, per approver, how many samples went.
pub fn request_approval(
    p: &Prepared,
    store: &crate::journal::Store,
    binding: &Binding,
) -> std::result::Result<Vec<(String, usize)>, SendError> {
    let setup = |m: String| SendError::Setup(m);
    let approval = p
        .config
        .approval
        .as_ref()
        .filter(|a| !a.approvers.is_empty())
        .ok_or_else(|| setup("[approval] names no approvers to ask".into()))?;
    let url = approval.approve_url.as_ref().ok_or_else(|| {
        setup("[approval] has no approve_url: the link approvers get must point at `bulletin serve`'s /approve/{token}".into())
    })?;
    let secrets = p
        .secrets
        .as_ref()
        .map_err(|e| setup(format!("approval links are signed: {e}")))?;
    // The samples first: an approver clears what they were shown.
    let samples = super::test_send(p, store, &approval.approvers, None, true)?;
    let g = super::gate::check(&p.config, super::gate::Asked::default());
    let settings = match g.relays {
        Some(r) if g.problems.is_empty() => r.list[0].settings.clone(),
        _ => return Err(SendError::Refused(g.problems)),
    };
    let now = crate::clock::now_ms();
    let subjects: Vec<String> = p
        .campaign
        .languages
        .iter()
        .filter_map(|l| {
            p.renderer
                .render_web(l)
                .ok()
                .map(|w| format!("  {l}: {}", w.subject))
        })
        .collect();
    let counts: Vec<String> = binding
        .counts
        .iter()
        .map(|(k, n)| format!("  {k}: {n}"))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup(e.to_string()))?;
    runtime.block_on(async {
        let mut client = Client::connect(settings).await.map_err(|e| setup(e.to_string()))?;
        let mut out = Vec::new();
        for who in &approval.approvers {
            let token = secrets.approval_token(&ApprovalRequest {
                campaign: p.campaign.id.clone(),
                hash: binding.hash.clone(),
                approver: who.clone(),
                at_ms: now,
            });
            let body = format!(
                "{} asks you to approve the campaign {} before it goes out.\n\nSubjects:\n{}\n\nRecipients:\n{}\n\nThe samples marked [TEST] came with this message. To approve this version, open:\n\n{}\n\nThe link works for {} days, and only for this version: if the campaign changes, it will say so.\n",
                p.config.sender.name,
                p.campaign.id,
                subjects.join("\n"),
                counts.join("\n"),
                url.replace("{token}", &token),
                approval.expires_days,
            );
            let subject = format!("Approval requested: {}", p.campaign.id);
            let (from, bytes) = crate::compose::notice(
                &p.config,
                &crate::compose::Notice {
                    to: who,
                    to_name: "",
                    subject: &subject,
                    body: &body,
                    lang: "en",
                    kind: "approval",
                },
                crate::clock::now(),
                &format!("{:016x}", fastrand::u64(..)),
            )
            .map_err(setup)?;
            let refused = |e: super::client::SmtpError| setup(format!("the relay refused the approval request to {who}: {e}"));
            client.begin(&from, &crate::address::wire(who), false).await.map_err(refused)?;
            client.finish(&bytes).await.map_err(refused)?;
            let n = samples.iter().filter(|s| s.to.eq_ignore_ascii_case(who)).count();
            out.push((who.clone(), n));
        }
        client.quit().await;
        Ok(out)
    })
}
