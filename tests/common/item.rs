//! An issue under test in the simulated GitLab, and what people do to it (each step waits
//! until the service has processed everything it caused).

use super::Harness;
use labelflow::sim::{IssueView, SimIssue};

#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub p: u64,
    pub iid: u64,
}

impl Item {
    pub async fn label(self, h: &Harness, who: &str, label: &str) {
        h.sim
            .as_user(who)
            .add_labels(self.p, self.iid, &[label])
            .expect("label applied");
        h.settle().await;
    }

    pub async fn comment(self, h: &Harness, who: &str, body: &str) {
        h.sim
            .as_user(who)
            .comment(self.p, self.iid, body)
            .expect("comment posted");
        h.settle().await;
    }

    pub async fn edit(self, h: &Harness, who: &str, description: &str) {
        h.sim
            .as_user(who)
            .edit_description(self.p, self.iid, description)
            .expect("description edited");
        h.settle().await;
    }

    pub fn issue(self, h: &Harness) -> SimIssue {
        h.sim.issue(self.p, self.iid).expect("issue exists")
    }

    pub fn state(self, h: &Harness) -> IssueView {
        h.sim.issue_state(self.p, self.iid).expect("issue exists")
    }

    pub fn web_url(self, h: &Harness) -> String {
        self.state(h).web_url
    }

    pub fn sorted_labels(self, h: &Harness) -> Vec<String> {
        let mut l = h.labels(self.p, self.iid);
        l.sort();
        l
    }

    pub fn bot_comments(self, h: &Harness) -> usize {
        h.bot_notes(self.p, self.iid).len()
    }

    pub fn expect_comment(self, h: &mut Harness, text: &str) -> String {
        h.expect_comment(self.p, self.iid, text)
    }
}
