//! The progress line of `export` and `import`, redrawn in place on stderr while it is a
//! terminal: the stage, entries and bytes done (of how many, when known), the rate and the time
//! left. Nothing at all when stderr is not a terminal, so logs and pipes get only the summary.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use zero_storage::dump::{Progress, Stage};

use super::output::human;

/// Before this much time into a stage, a rate and a time left would be noise.
const SETTLE: Duration = Duration::from_millis(500);

/// The stage, then what [`describe`] says; cut at the terminal's width (the longest line
/// fits 80 columns).
const TEMPLATE: &str = "{prefix:<9} {wide_msg}";

/// One line on stderr that shows how far an export or import has come.
pub(super) struct ProgressLine {
    bar: ProgressBar,
    stage: Option<Stage>,
    /// When the current stage started: rates and the time left are per stage.
    started: Instant,
}

impl ProgressLine {
    /// A progress line, if stderr is a terminal.
    pub(super) fn on_terminal() -> Option<ProgressLine> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        // Styled before anything is drawn, so that no line ever shows indicatif's default.
        let style = ProgressStyle::with_template(TEMPLATE).expect("a valid template");
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
        Some(ProgressLine { bar, stage: None, started: Instant::now() })
    }

    /// Shows `progress`.
    pub(super) fn update(&mut self, progress: &Progress) {
        if self.stage != Some(progress.stage) {
            self.stage = Some(progress.stage);
            self.started = Instant::now();
            self.bar.set_prefix(stage_name(progress.stage));
        }
        let line = describe(progress, self.started.elapsed());
        self.bar.set_message(match line.fraction {
            Some(fraction) => format!("{:>3.0}% {}", fraction * 100.0, line.text),
            None => line.text,
        });
    }

    /// Takes the line off the terminal, so that the summary prints on a clean line.
    pub(super) fn clear(self) {
        self.bar.finish_and_clear();
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Exporting => "exporting",
        Stage::Checking => "checking",
        Stage::Clearing => "clearing",
        Stage::Writing => "writing",
    }
}

/// What the line says, and the fraction done (when the total is known).
#[derive(Debug, PartialEq)]
struct Line {
    text: String,
    fraction: Option<f64>,
}

/// The line for `progress`, `elapsed` into its stage.
fn describe(progress: &Progress, elapsed: Duration) -> Line {
    let mut parts = Vec::new();
    // The export's entry total comes from usage records that count expired entries too.
    let about = if progress.stage == Stage::Exporting { "~" } else { "" };
    parts.push(match progress.total_entries {
        Some(total) => format!("{}/{about}{total} entries", progress.entries),
        None => format!("{} entries", progress.entries),
    });
    if progress.bytes > 0 || progress.total_bytes.is_some() {
        parts.push(match progress.total_bytes {
            Some(total) => bytes_of(progress.bytes, total),
            None => human(progress.bytes),
        });
    }
    // The bytes say best how far along a stage is when it knows how many; else the entries.
    let fraction = match (progress.total_bytes, progress.total_entries) {
        (Some(total), _) if total > 0 => Some(progress.bytes as f64 / total as f64),
        (_, Some(total)) if total > 0 => Some(progress.entries as f64 / total as f64),
        (Some(_), _) | (_, Some(_)) => Some(1.0),
        (None, None) => None,
    }
    .map(|fraction| fraction.clamp(0.0, 1.0));
    let seconds = elapsed.as_secs_f64();
    if elapsed >= SETTLE {
        parts.push(if progress.bytes > 0 {
            format!("{}/s", human((progress.bytes as f64 / seconds) as u64))
        } else {
            format!("{} entries/s", (progress.entries as f64 / seconds) as u64)
        });
        if let Some(fraction) = fraction.filter(|fraction| *fraction > 0.0 && *fraction < 1.0) {
            parts.push(format!("{} left", duration(seconds * (1.0 - fraction) / fraction)));
        }
    }
    Line { text: parts.join(", "), fraction }
}

/// `done` of `total` bytes in the total's unit, e.g. `2.9/7.6 MiB`.
fn bytes_of(done: u64, total: u64) -> String {
    let total = human(total);
    match total.split_once(' ') {
        Some((amount, "B")) => format!("{done}/{amount} B"),
        Some((amount, unit)) => {
            let scale = match unit {
                "KiB" => 1u64 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                _ => 1 << 40,
            };
            format!("{:.1}/{amount} {unit}", done as f64 / scale as f64)
        }
        None => format!("{}/{total}", human(done)),
    }
}

/// Seconds as `42 s`, `3 min 5 s` or `2 h 10 min`.
fn duration(seconds: f64) -> String {
    let seconds = seconds.ceil() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(stage: Stage, entries: u64, bytes: u64, totals: (Option<u64>, Option<u64>)) -> Progress {
        Progress { stage, entries, bytes, total_entries: totals.0, total_bytes: totals.1 }
    }

    #[test]
    fn a_stage_with_totals_shows_done_of_total_the_rate_and_the_time_left() {
        let line =
            describe(&progress(Stage::Writing, 250, 1 << 20, (Some(1000), Some(4 << 20))), Duration::from_secs(2));
        assert_eq!(line.text, "250/1000 entries, 1.0/4.0 MiB, 512.0 KiB/s, 6 s left");
        assert_eq!(line.fraction, Some(0.25));
    }

    #[test]
    fn an_export_marks_its_entry_total_as_an_estimate_and_shows_bytes_without_a_total() {
        let line = describe(&progress(Stage::Exporting, 500, 2048, (Some(1000), None)), Duration::from_secs(1));
        assert_eq!(line.text, "500/~1000 entries, 2.0 KiB, 2.0 KiB/s, 1 s left");
        assert_eq!(line.fraction, Some(0.5));
    }

    #[test]
    fn a_stage_without_totals_has_no_fraction_and_counts_entries_per_second() {
        let line = describe(&progress(Stage::Clearing, 3000, 0, (None, None)), Duration::from_secs(3));
        assert_eq!(line, Line { text: "3000 entries, 1000 entries/s".into(), fraction: None });
    }

    #[test]
    fn no_rate_or_time_left_is_guessed_in_the_first_half_second() {
        let line = describe(&progress(Stage::Checking, 10, 100, (None, Some(1000))), Duration::from_millis(100));
        assert_eq!(line.text, "10 entries, 100/1000 B");
    }

    #[test]
    fn an_estimate_that_is_passed_or_empty_counts_as_done_and_shows_no_time_left() {
        let line = describe(&progress(Stage::Exporting, 1200, 10, (Some(1000), None)), Duration::from_secs(1));
        assert_eq!((line.fraction, line.text.contains("left")), (Some(1.0), false));
        let line = describe(&progress(Stage::Writing, 0, 0, (Some(0), Some(0))), Duration::from_secs(1));
        assert_eq!(line.fraction, Some(1.0));
    }

    #[test]
    fn bytes_done_are_shown_in_the_unit_of_their_total() {
        assert_eq!(bytes_of(300, 1000), "300/1000 B");
        assert_eq!(bytes_of(3 << 19, 8 << 20), "1.5/8.0 MiB");
        assert_eq!(bytes_of(0, 2048), "0.0/2.0 KiB");
    }

    #[test]
    fn the_longest_line_fits_eighty_columns() {
        let progress = progress(Stage::Writing, 999_999, 999 << 20, (Some(1_000_000), Some(1000 << 20)));
        let text = describe(&progress, Duration::from_secs(100)).text;
        // TEMPLATE: the stage (9), a space, then the percentage (4) and a space.
        assert!(15 + text.len() <= 80, "{} columns: {text}", 15 + text.len());
    }

    #[test]
    fn durations_read_in_seconds_minutes_or_hours() {
        assert_eq!(duration(0.2), "1 s");
        assert_eq!(duration(59.0), "59 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(7800.0), "2 h 10 min");
    }
}
