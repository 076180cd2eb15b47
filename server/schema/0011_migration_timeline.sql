-- Each migration's timeline: the phases it went through, the steps of its
-- convergence policy and the faults it met, with times (a JSON array of
-- {at, phase, text}).
ALTER TABLE migrations ADD COLUMN timeline TEXT NOT NULL DEFAULT '[]';
