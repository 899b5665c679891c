//! Stages: every app migration's outcome is recorded per plugin, and each plugin is
//! labelled **Stage 2** when its recent success rate is demonstrably high, otherwise
//! **Stage 1** (`low` when demonstrably low, `unknown` when the evidence says neither).
//!
//! The rule (public in `docs/stages.md`): take the outcomes of the plugin's current
//! major version in the last `window_days` days; only `complete` counts as a success.
//! With the Wilson score interval of the success rate at `confidence`, the plugin is
//! Stage 2 when the interval's lower bound is at least `threshold`, Stage 1 `low` when
//! its upper bound is below `threshold`, and Stage 1 `unknown` otherwise (including when
//! there are no outcomes at all).

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use ferry_core::state::StateDb;

/// The Stage rule's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageRule {
    /// Only outcomes that finished in this many days before now count.
    pub window_days: u32,
    /// The success rate a plugin must demonstrably reach (0–1).
    pub threshold: f64,
    /// The confidence of the Wilson interval (0–1, two-sided).
    pub confidence: f64,
}

impl StageRule {
    /// The rule in words, as the CLI and the dashboard state it.
    pub fn describe(&self) -> String {
        format!(
            "settled outcomes of the plugin's current major version in the last {} days: an app migration counts once its \
             cloud app settled the transfer (or it failed or timed out first), and only complete (the cloud app imported \
             everything) counts as success. \
             Stage 2 when the lower bound of the {:.0}% Wilson interval of the success rate is at least {:.2}; \
             Stage 1 low when its upper bound is below {:.2}; otherwise Stage 1 unknown.",
            self.window_days,
            self.confidence * 100.0,
            self.threshold,
            self.threshold
        )
    }
}

impl Default for StageRule {
    fn default() -> Self {
        StageRule { window_days: 90, threshold: 0.80, confidence: 0.95 }
    }
}

/// A plugin's Stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Stage {
    /// Demonstrably high success rate.
    #[serde(rename = "stage-2")]
    Stage2,
    /// Demonstrably low success rate.
    #[serde(rename = "stage-1-low")]
    Stage1Low,
    /// Not enough evidence either way.
    #[serde(rename = "stage-1-unknown")]
    Stage1Unknown,
}

impl Stage {
    /// The label as shown and stored.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Stage2 => "stage-2",
            Stage::Stage1Low => "stage-1-low",
            Stage::Stage1Unknown => "stage-1-unknown",
        }
    }

    /// Whether the plugin is Stage 1 (either kind).
    pub fn is_stage1(self) -> bool {
        self != Stage::Stage2
    }
}

/// The figures behind one plugin's Stage.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageFigures {
    /// The plugin's app key.
    pub app: String,
    /// The plugin version whose major line is counted.
    pub version: String,
    /// App migrations counted.
    pub attempts: u64,
    /// Of those, `complete`.
    pub successes: u64,
    /// successes / attempts (none without attempts).
    pub rate: Option<f64>,
    /// Lower bound of the Wilson interval.
    pub lower: f64,
    /// Upper bound of the Wilson interval.
    pub upper: f64,
    /// The Stage.
    pub stage: Stage,
    /// Which bound decided, in words.
    pub decided_by: String,
}

impl StageFigures {
    /// One line for humans: `stage-2 (16/16 complete, 95% interval 0.81–1.00)`.
    pub fn summary(&self) -> String {
        format!("{} ({}/{} complete, interval {:.2}–{:.2})", self.stage.name(), self.successes, self.attempts, self.lower, self.upper)
    }
}

/// The two-sided normal quantile for `confidence` (0.95 → 1.959964).
pub fn z_for(confidence: f64) -> f64 {
    inverse_normal(0.5 + confidence / 2.0)
}

/// The inverse of the standard normal CDF (Acklam's rational approximation, relative
/// error below 1.2e-9 over (0, 1)).
fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] =
        [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.38357751867269e+02, -3.066479806614716e+01, 2.506628277459239e+00];
    const B: [f64; 5] = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
    const C: [f64; 6] =
        [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    const LOW: f64 = 0.02425;
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The Wilson score interval of `successes` out of `attempts` at normal quantile `z`;
/// (0, 1) without attempts.
pub fn wilson(successes: u64, attempts: u64, z: f64) -> (f64, f64) {
    if attempts == 0 {
        return (0.0, 1.0);
    }
    let n = attempts as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    (((centre - spread) / denominator).clamp(0.0, 1.0), ((centre + spread) / denominator).clamp(0.0, 1.0))
}

/// The Stage of `successes` out of `attempts` under `rule`.
pub fn classify(app: &str, version: &str, successes: u64, attempts: u64, rule: &StageRule) -> StageFigures {
    let (lower, upper) = wilson(successes, attempts, z_for(rule.confidence));
    let percent = rule.confidence * 100.0;
    let (stage, decided_by) = if attempts > 0 && lower >= rule.threshold {
        (Stage::Stage2, format!("lower bound {lower:.3} of the {percent:.0}% interval is at least {:.2}", rule.threshold))
    } else if attempts > 0 && upper < rule.threshold {
        (Stage::Stage1Low, format!("upper bound {upper:.3} of the {percent:.0}% interval is below {:.2}", rule.threshold))
    } else if attempts == 0 {
        (Stage::Stage1Unknown, format!("no app migrations of this major version in the last {} days", rule.window_days))
    } else {
        (Stage::Stage1Unknown, format!("the {percent:.0}% interval {lower:.3}–{upper:.3} contains {:.2}: not enough evidence yet", rule.threshold))
    };
    StageFigures {
        app: app.to_string(),
        version: version.to_string(),
        attempts,
        successes,
        rate: (attempts > 0).then(|| successes as f64 / attempts as f64),
        lower,
        upper,
        stage,
        decided_by,
    }
}

/// One app migration's outcome, in the export format (JSON lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The plugin's server app key.
    pub app: String,
    /// The plugin version.
    pub version: String,
    /// The transfer id (unique per app migration; imports deduplicate by it).
    pub transfer_id: String,
    /// `complete`, `incomplete`, `failed` or `timed-out`.
    pub status: String,
    /// When it ended, RFC 3339.
    pub finished_at: String,
}

/// The statuses an app migration can end with.
pub const FINAL_STATUSES: [&str; 4] = ["complete", "incomplete", "failed", "timed-out"];

/// Normalise an RFC 3339 time to UTC with milliseconds (the state DB's form, which sorts
/// as text).
pub fn normalise_time(text: &str) -> anyhow::Result<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text.trim()).with_context(|| format!("{text:?} is not an RFC 3339 time"))?;
    Ok(parsed.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Record an outcome (a transfer id already recorded is left as it is). Returns whether
/// it was new.
pub async fn record(db: &StateDb, outcome: &Outcome, origin: &str) -> anyhow::Result<bool> {
    anyhow::ensure!(
        FINAL_STATUSES.contains(&outcome.status.as_str()),
        "status {:?} of transfer {} is not one of {}",
        outcome.status,
        outcome.transfer_id,
        FINAL_STATUSES.join(", ")
    );
    semver::Version::parse(&outcome.version).with_context(|| format!("version {:?} of transfer {} is not semver", outcome.version, outcome.transfer_id))?;
    anyhow::ensure!(!outcome.app.trim().is_empty() && !outcome.transfer_id.trim().is_empty(), "an outcome needs an app and a transfer id");
    let finished_at = normalise_time(&outcome.finished_at).with_context(|| format!("finished_at of transfer {}", outcome.transfer_id))?;
    let done = sqlx::query("INSERT OR IGNORE INTO stage_outcomes (transfer_id, app_key, version, status, finished_at, origin) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&outcome.transfer_id)
        .bind(&outcome.app)
        .bind(&outcome.version)
        .bind(&outcome.status)
        .bind(finished_at)
        .bind(origin)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The rule as set in this `FERRY_HOME` (the defaults where unset).
pub async fn rule(db: &StateDb) -> anyhow::Result<StageRule> {
    let json: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = 'stages.rule'").fetch_optional(db.pool()).await?.map(|r| r.get(0));
    match json {
        Some(j) => serde_json::from_str(&j).context("the stored Stage rule"),
        None => Ok(StageRule::default()),
    }
}

/// Change the rule.
pub async fn set_rule(db: &StateDb, rule: &StageRule) -> anyhow::Result<()> {
    anyhow::ensure!(rule.window_days > 0, "the window must be at least one day");
    anyhow::ensure!((0.0..=1.0).contains(&rule.threshold), "the threshold is a rate between 0 and 1");
    anyhow::ensure!(rule.confidence > 0.0 && rule.confidence < 1.0, "the confidence is between 0 and 1, e.g. 0.95");
    sqlx::query("INSERT INTO settings (key, value) VALUES ('stages.rule', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(serde_json::to_string(rule)?)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The Stage of the plugin of `app` at `version`: its outcomes of the same major version
/// in the rule's window.
pub async fn figures(db: &StateDb, app: &str, version: &str, rule: &StageRule) -> anyhow::Result<StageFigures> {
    let major = semver::Version::parse(version).with_context(|| format!("plugin version {version:?}"))?.major;
    let since = humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(u64::from(rule.window_days) * 86_400)).to_string();
    let rows =
        sqlx::query("SELECT version, status FROM stage_outcomes WHERE app_key = ? AND finished_at >= ?").bind(app).bind(since).fetch_all(db.pool()).await?;
    let (mut attempts, mut successes) = (0, 0);
    for row in rows {
        let v: String = row.get(0);
        if semver::Version::parse(&v).map(|v| v.major).ok() != Some(major) {
            continue;
        }
        attempts += 1;
        successes += u64::from(row.get::<String, _>(1) == "complete");
    }
    Ok(classify(app, version, successes, attempts, rule))
}

/// The Stage of every plugin: the installed ones at their installed version, and those
/// known only from outcomes at their newest recorded version.
pub async fn all(db: &StateDb) -> anyhow::Result<Vec<StageFigures>> {
    let rule = rule(db).await?;
    let mut current: std::collections::BTreeMap<String, semver::Version> = std::collections::BTreeMap::new();
    for row in sqlx::query("SELECT app_key, version FROM stage_outcomes").fetch_all(db.pool()).await? {
        let (app, version): (String, String) = (row.get(0), row.get(1));
        if let Ok(v) = semver::Version::parse(&version) {
            let entry = current.entry(app).or_insert_with(|| v.clone());
            if v > *entry {
                *entry = v;
            }
        }
    }
    for plugin in crate::registry::Registry::new(db.clone()).list().await? {
        if let Ok(v) = semver::Version::parse(&plugin.version) {
            current.insert(plugin.server_app_key, v);
        }
    }
    let mut out = Vec::new();
    for (app, version) in current {
        out.push(figures(db, &app, &version.to_string(), &rule).await?);
    }
    Ok(out)
}

/// Write every recorded outcome as JSON lines.
pub async fn export(db: &StateDb, out: &mut dyn Write) -> anyhow::Result<u64> {
    let rows = sqlx::query("SELECT app_key, version, transfer_id, status, finished_at FROM stage_outcomes ORDER BY finished_at, transfer_id")
        .fetch_all(db.pool())
        .await?;
    for row in &rows {
        let outcome = Outcome { app: row.get(0), version: row.get(1), transfer_id: row.get(2), status: row.get(3), finished_at: row.get(4) };
        writeln!(out, "{}", serde_json::to_string(&outcome)?)?;
    }
    Ok(rows.len() as u64)
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Outcomes added.
    pub added: u64,
    /// Outcomes whose transfer id was already recorded.
    pub duplicates: u64,
}

/// Import JSON lines of outcomes (deduplicated by transfer id). Every line is checked
/// before any is stored: one bad line refuses the file, naming the line.
pub async fn import(db: &StateDb, text: &str, origin: &str) -> anyhow::Result<ImportSummary> {
    let mut outcomes = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let outcome: Outcome = serde_json::from_str(line)
            .with_context(|| format!("line {}: expected {{\"app\", \"version\", \"transfer_id\", \"status\", \"finished_at\"}}", n + 1))?;
        anyhow::ensure!(
            FINAL_STATUSES.contains(&outcome.status.as_str()),
            "line {}: status {:?} is not one of {}",
            n + 1,
            outcome.status,
            FINAL_STATUSES.join(", ")
        );
        semver::Version::parse(&outcome.version).with_context(|| format!("line {}: version {:?} is not semver", n + 1, outcome.version))?;
        normalise_time(&outcome.finished_at).with_context(|| format!("line {}", n + 1))?;
        outcomes.push(outcome);
    }
    let mut summary = ImportSummary::default();
    for outcome in &outcomes {
        if record(db, outcome, origin).await? {
            summary.added += 1;
        } else {
            summary.duplicates += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_of_sixteen_is_stage_2_and_fifteen_of_fifteen_is_not_yet() {
        let rule = StageRule::default();
        assert_eq!(classify("a", "1.0.0", 16, 16, &rule).stage, Stage::Stage2);
        assert_eq!(classify("a", "1.0.0", 15, 15, &rule).stage, Stage::Stage1Unknown);
    }

    #[test]
    fn a_demonstrably_low_rate_is_stage_1_low() {
        let rule = StageRule::default();
        let low = classify("a", "1.0.0", 5, 20, &rule);
        assert_eq!(low.stage, Stage::Stage1Low);
        assert!(low.upper < 0.8);
    }

    #[test]
    fn no_migrations_is_stage_1_unknown() {
        let f = classify("a", "1.0.0", 0, 0, &StageRule::default());
        assert_eq!((f.stage, f.rate, f.lower, f.upper), (Stage::Stage1Unknown, None, 0.0, 1.0));
    }

    #[test]
    fn the_normal_quantile_matches_the_table() {
        assert!((z_for(0.95) - 1.959964).abs() < 1e-5);
        assert!((z_for(0.99) - 2.575829).abs() < 1e-5);
    }

    #[test]
    fn wilson_bounds_match_a_worked_example() {
        // 16/16 at 95%: lower = 1 / (1 + z²/16).
        let (lower, upper) = wilson(16, 16, z_for(0.95));
        assert!((lower - 0.80639).abs() < 1e-4, "{lower}");
        assert_eq!(upper, 1.0);
    }

    #[test]
    fn times_are_normalised_to_utc() {
        assert_eq!(normalise_time("2026-11-01T12:00:00+02:00").unwrap(), "2026-11-01T10:00:00.000Z");
        assert!(normalise_time("yesterday").is_err());
    }
}
