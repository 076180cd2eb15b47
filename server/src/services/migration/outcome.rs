//! How a migration ended, in words a person can act on: from what libvirt
//! said, which hosts still answered, and where the guest is now. A migrate
//! call that fails with "client socket is closed" says nothing about which
//! host went away; asking both hosts afterwards does.

use app::api::{guests::GuestState, migrations::JobStatus};

/// Where the guest is once the migration call has returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Running (or, offline, defined) on the destination.
    Destination,
    /// On the source, in this state.
    Source(GuestState),
    /// On neither host (or neither could say).
    Nowhere,
    /// The source did not answer again within the wait: unknown for now.
    SourceSilent,
    /// Post-copy broke: paused on the source, stalled on the destination.
    Split,
}

/// What is known when a migration ended without libvirt saying "done".
#[derive(Debug, Clone)]
pub struct Ending<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    /// Libvirt's message, if the migrate call failed.
    pub libvirt: Option<&'a str>,
    /// What the migration was doing ("the memory copy"…).
    pub during: &'a str,
    pub located: Located,
    pub cancelled: bool,
    /// virtdeck aborted it for want of progress: the reason.
    pub stalled: Option<String>,
    /// The destination answered after the failure.
    pub destination_answers: bool,
    /// The source's libvirtd went away during the migration (and came back).
    pub source_restarted: bool,
    /// The migration ended while virtdeck was not running.
    pub adopted: bool,
    /// How long virtdeck waited for a silent source (seconds).
    pub wait_s: u64,
}

/// The job's final state and its reason (`None` when it completed cleanly).
pub fn judge(e: &Ending) -> (JobStatus, Option<String>) {
    let place = match &e.located {
        Located::Destination => format!("the guest runs on {}", e.destination),
        Located::Source(GuestState::Running) => format!("the guest kept running on {}", e.source),
        Located::Source(state) => format!("the guest is {} on {}", state.label(), e.source),
        Located::Nowhere => "the guest is running on neither host".to_string(),
        Located::Split => format!(
            "the guest is paused on {} and waits for the rest of its memory on {}: neither host has all of it, and virtdeck starts or resumes neither copy; once the hosts reach each other again, resume the migration (virsh migrate --live --p2p --postcopy --postcopy-resume)",
            e.source, e.destination
        ),
        Located::SourceSilent => format!(
            "{} has not answered for {} s, so where the guest is cannot be told yet",
            e.source, e.wait_s
        ),
    };
    let libvirt = e
        .libvirt
        .map(|m| format!(" (libvirt: {m})"))
        .unwrap_or_default();
    if e.located == Located::Destination && !e.cancelled {
        // The switch-over happened: whatever broke afterwards, it moved.
        return if e.source_restarted {
            (
                JobStatus::Completed,
                Some(format!(
                    "{}'s libvirtd went away during {}, but the migration had finished: {place}",
                    e.source, e.during
                )),
            )
        } else {
            (JobStatus::Completed, None)
        };
    }
    if e.cancelled {
        return (JobStatus::Cancelled, Some(format!("Cancelled: {place}.")));
    }
    let why = if let Some(stalled) = &e.stalled {
        format!("{stalled}; the migration was aborted")
    } else if e.located == Located::Split {
        format!(
            "post-copy failed: the connection between {} and {} broke after the guest had switched over",
            e.source, e.destination
        )
    } else if e.located == Located::SourceSilent {
        format!("{} stopped answering during {}", e.source, e.during)
    } else if e.source_restarted {
        format!(
            "{}'s libvirtd went away during {} and libvirt cancelled the migration when it came back",
            e.source, e.during
        )
    } else if e.adopted {
        "the migration ended without completing while virtdeck was not running (libvirt keeps no reason for it)".to_string()
    } else if !e.destination_answers {
        format!(
            "the destination host {} stopped answering during {}",
            e.destination, e.during
        )
    } else if e.libvirt.is_some_and(stream_broke) {
        format!(
            "the connection between {} and {} broke during {} (the network between the hosts failed, or {}'s QEMU process for the guest stopped)",
            e.source, e.destination, e.during, e.destination
        )
    } else {
        format!("the migration failed during {}", e.during)
    };
    let status = if matches!(
        e.located,
        Located::Nowhere | Located::SourceSilent | Located::Split
    ) {
        JobStatus::Unknown
    } else {
        JobStatus::Failed
    };
    (status, Some(format!("{why}; {place}{libvirt}.")))
}

/// Does libvirt's message say the data connection itself broke?
fn stream_broke(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "socket",
        "broken pipe",
        "connection reset",
        "input/output error",
        "end of file",
        "unable to write",
        "unable to read",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// What the migration was doing, from its last phase, for a sentence.
pub fn during(phase: Option<&str>) -> &'static str {
    match phase {
        Some("copying storage") => "the storage copy",
        Some("post-copy") | Some(app::api::migrations::PHASE_POSTCOPY_BROKEN) => "post-copy",
        Some(p) if p.starts_with("copying memory") || p.starts_with("re-copying") => {
            "the memory copy"
        }
        _ => "the start of the migration",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ending(libvirt: &'static str) -> Ending<'static> {
        Ending {
            source: "lab-a",
            destination: "lab-b",
            libvirt: Some(libvirt),
            during: "the memory copy",
            located: Located::Source(GuestState::Running),
            cancelled: false,
            stalled: None,
            destination_answers: true,
            source_restarted: false,
            adopted: false,
            wait_s: 120,
        }
    }

    #[test]
    fn a_silent_destination_is_named_and_the_source_is_not_blamed() {
        let (status, reason) = judge(&Ending {
            destination_answers: false,
            ..ending("internal error: client socket is closed")
        });
        assert_eq!(status, JobStatus::Failed);
        assert_eq!(
            reason.unwrap(),
            "the destination host lab-b stopped answering during the memory copy; the guest kept running on lab-a (libvirt: internal error: client socket is closed)."
        );
    }

    #[test]
    fn a_broken_stream_with_a_live_destination_names_both_causes() {
        let (_, reason) = judge(&ending(
            "operation failed: job 'migration out' failed: Unable to write to socket: Bad file descriptor",
        ));
        assert!(reason
            .unwrap()
            .starts_with("the connection between lab-a and lab-b broke during the memory copy (the network between the hosts failed, or lab-b's QEMU process"));
    }

    #[test]
    fn a_restarted_source_says_what_libvirt_did() {
        let (status, reason) = judge(&Ending {
            source_restarted: true,
            ..ending("End of file while reading data: Input/output error")
        });
        assert_eq!(status, JobStatus::Failed);
        assert!(reason.unwrap().contains(
            "lab-a's libvirtd went away during the memory copy and libvirt cancelled the migration"
        ));
        let (status, reason) = judge(&Ending {
            source_restarted: true,
            located: Located::Destination,
            ..ending("End of file while reading data: Input/output error")
        });
        assert_eq!(status, JobStatus::Completed);
        assert!(reason.unwrap().ends_with("the guest runs on lab-b"));
    }

    #[test]
    fn a_broken_postcopy_is_never_called_done() {
        let (status, reason) = judge(&Ending {
            located: Located::Split,
            during: "post-copy",
            ..ending("internal error: client socket is closed")
        });
        assert_eq!(status, JobStatus::Unknown);
        let reason = reason.unwrap();
        assert!(
            reason.starts_with("post-copy failed: the connection between lab-a and lab-b broke"),
            "{reason}"
        );
        assert!(reason.contains("neither host has all of it"), "{reason}");
    }

    #[test]
    fn cancelled_and_stalled_and_nowhere() {
        let (status, reason) = judge(&Ending {
            cancelled: true,
            ..ending("operation aborted: job 'migration out' canceled by client")
        });
        assert_eq!(status, JobStatus::Cancelled);
        assert_eq!(
            reason.unwrap(),
            "Cancelled: the guest kept running on lab-a."
        );
        let (status, reason) = judge(&Ending {
            stalled: Some("no progress for 30 s".into()),
            ..ending("operation aborted: job 'migration out' canceled by client")
        });
        assert_eq!(status, JobStatus::Failed);
        assert!(reason.unwrap().starts_with(
            "no progress for 30 s; the migration was aborted; the guest kept running on lab-a"
        ));
        let (status, _) = judge(&Ending {
            located: Located::Nowhere,
            ..ending("x")
        });
        assert_eq!(status, JobStatus::Unknown);
    }
}
