//! A scenario runner: named steps run in order over a shared context, with progress and a summary table.
//! Each deployment contributes its steps (`coffee.rs`); the runner stops at the first failing step.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// What a step returns: a one-line detail for the summary, or why it failed.
pub type StepResult = Result<String, String>;

/// A step's body.
pub type StepFn<C> = for<'a> fn(&'a mut C) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>>;

/// One named step.
pub struct Step<C> {
    /// Shown in the progress line and the summary.
    pub name: &'static str,
    /// The step.
    pub run: StepFn<C>,
}

/// The outcome of one step.
pub struct Outcome {
    /// The step.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// Its detail or failure.
    pub detail: String,
    /// How long it took.
    pub took: Duration,
}

/// Runs `steps` in order; stops at the first failure.
pub async fn run<C>(ctx: &mut C, steps: &[Step<C>]) -> Vec<Outcome> {
    let bar = ProgressBar::new(steps.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let mut outcomes = Vec::new();
    for step in steps {
        bar.set_message(step.name);
        let started = Instant::now();
        let result = (step.run)(ctx).await;
        let took = started.elapsed();
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => (false, e),
        };
        let line = format!(
            "{} {} ({:.2} s): {detail}",
            if ok { "ok  " } else { "FAIL" },
            step.name,
            took.as_secs_f64()
        );
        // Without a terminal the bar is hidden: the lines are the progress.
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(1);
        outcomes.push(Outcome {
            name: step.name,
            ok,
            detail,
            took,
        });
        if !ok {
            break;
        }
    }
    bar.finish_and_clear();
    outcomes
}

/// Prints the summary table.
pub fn print_summary(outcomes: &[Outcome], total: usize) {
    let width = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!();
    println!("{:<width$}  {:<6}  {:>8}  detail", "step", "result", "time");
    println!("{}", "-".repeat(width + 30));
    for o in outcomes {
        let detail: String = o.detail.chars().take(100).collect();
        println!(
            "{:<width$}  {:<6}  {:>7.2}s  {detail}",
            o.name,
            if o.ok { "ok" } else { "FAILED" },
            o.took.as_secs_f64()
        );
    }
    let passed = outcomes.iter().filter(|o| o.ok).count();
    println!("{}", "-".repeat(width + 30));
    println!("{passed}/{total} steps passed");
}
