//! Where the guest is once a migration did not simply complete (`locate`),
//! and the later look at a destination that was silent when it ended.

use std::time::{Duration, Instant};

use app::api::{
    guests::GuestState,
    migrations::{Convergence, MigrationJob, MigrationMode},
};

use super::{outcome::Located, push_step, MigrationJobs, PROBE_TIMEOUT};

/// How long virtdeck keeps looking for a leftover copy on a destination
/// that stopped answering during a failed migration.
const DESTINATION_CHECK_WAIT: Duration = Duration::from_secs(30 * 60);

impl MigrationJobs {
    /// Where the guest is now, and what the destination holds of it when
    /// it is not the guest itself (a leftover of a failed migration).
    pub(super) async fn locate(&self, job: &MigrationJob) -> (Located, Option<GuestState>) {
        let find = |host: &str| {
            let host = self.hosts.get(host);
            let uuid = job.uuid.clone();
            async move {
                match host {
                    Ok(h) => h.find_guest(&uuid).await.ok().flatten(),
                    Err(_) => None,
                }
            }
        };
        let (dest, source) = tokio::join!(find(&job.destination), find(&job.host));
        let state = |g: &Option<app::api::guests::GuestSummary>| g.as_ref().map(|g| g.state);
        let (dest, source) = (state(&dest), state(&source));
        let active = |s: Option<GuestState>| {
            s.is_some_and(|s| !matches!(s, GuestState::Shutoff | GuestState::Crashed))
        };
        let offline = job.mode == MigrationMode::Offline;
        // Post-copy that broke: the source keeps the guest paused and the
        // destination runs it without all of its memory. Neither has it whole.
        let postcopy = job.options.allow_postcopy == Some(true)
            || job.options.convergence == Some(Convergence::PostcopyWhenStalled);
        if postcopy && source == Some(GuestState::Paused) && active(dest) {
            (Located::Split, None)
        } else if dest == Some(GuestState::Running)
            || (offline && dest.is_some())
            || (active(dest) && !active(source))
        {
            (Located::Destination, None)
        } else if let Some(state) = source {
            (Located::Source(state), dest)
        } else {
            (Located::Nowhere, dest)
        }
    }

    /// Once a destination that stopped answering is back, looks for a copy
    /// of the guest there and says in the job's timeline what it found.
    pub(super) fn check_destination_later(&self, job: &MigrationJob) {
        let (jobs, hosts) = (self.jobs.clone(), self.hosts.clone());
        let (id, destination, uuid) = (job.id.clone(), job.destination.clone(), job.uuid.clone());
        tokio::spawn(async move {
            let Ok(dest) = hosts.get(&destination) else {
                return;
            };
            let deadline = Instant::now() + DESTINATION_CHECK_WAIT;
            let found = loop {
                if dest.answers(PROBE_TIMEOUT).await {
                    if let Ok(found) = dest.find_guest(&uuid).await {
                        break found;
                    }
                }
                if Instant::now() >= deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            let text = match found {
                None => format!("{destination} answers again: no copy of the guest there"),
                Some(g) => format!(
                    "{destination} answers again and has a copy of the guest ({}): virtdeck did not start it; remove it there once you have checked the guest on the source",
                    g.state.label()
                ),
            };
            tracing::info!(id, "{text}");
            jobs.amend(&id, |j| push_step(j, "checked", text)).await;
        });
    }
}
