//! Alert rules over the audit log: bursts of failed logins per account or
//! address, bulk reveals per actor, spikes of denials.
//!
//! Rules count committed events in the database, not in one process's
//! memory, so an attacker spreading attempts across instances is still
//! counted once. Each instance evaluates on a timer; an alert's id names
//! the rule, the counted value and the window, and the store keeps one row
//! per id, so a burst raises one alert however many instances see it. The
//! instance whose insert wins records the `alert` event and calls the webhook.

use std::sync::Arc;

use async_trait::async_trait;

use super::event::{AuditContext, EventType, Target};
use super::log::AuditLog;
use super::store::{AlertGroup, AlertRecord};
use crate::CoreError;

/// One rule: at least `threshold` events of `event_types` per `group` within
/// `window_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// Stable name (`failed_logins_per_account`).
    pub name: String,
    /// Event types counted.
    pub event_types: Vec<EventType>,
    /// What is counted per.
    pub group: AlertGroup,
    /// How many raise the alert.
    pub threshold: u64,
    /// The sliding window.
    pub window_seconds: i64,
}

/// Delivers raised alerts somewhere a human looks (a webhook).
#[async_trait]
pub trait AlertNotifier: Send + Sync + std::fmt::Debug {
    /// Sends one alert.
    async fn notify(&self, alert: &AlertRecord) -> Result<(), String>;
}

/// Evaluates the rules and raises alerts.
#[derive(Debug)]
pub struct AlertEvaluator {
    log: Arc<AuditLog>,
    rules: Vec<AlertRule>,
    notifier: Option<Arc<dyn AlertNotifier>>,
}

impl AlertEvaluator {
    /// An evaluator of `rules` (rules with a zero threshold are off).
    pub fn new(log: Arc<AuditLog>, rules: Vec<AlertRule>, notifier: Option<Arc<dyn AlertNotifier>>) -> Self {
        let rules = rules.into_iter().filter(|rule| rule.threshold > 0 && rule.window_seconds > 0).collect();
        Self { log, rules, notifier }
    }

    /// Runs every rule once; returns the alerts raised now.
    pub async fn evaluate(&self) -> Result<Vec<AlertRecord>, CoreError> {
        let now = self.log.now_ms();
        let mut raised = Vec::new();
        for rule in &self.rules {
            let window_ms = rule.window_seconds.saturating_mul(1000);
            let types: Vec<&str> = rule.event_types.iter().map(|t| t.as_str()).collect();
            let groups =
                self.log.store().count_audit_groups(&types, now - window_ms, rule.group, rule.threshold).await?;
            for (group_key, count) in groups {
                let message = format!(
                    "{count} {} events{} in the last {} s (threshold {})",
                    types.join("/"),
                    match rule.group {
                        AlertGroup::All => String::new(),
                        AlertGroup::Actor => format!(" by actor {group_key}"),
                        AlertGroup::Target => format!(" against {group_key}"),
                        AlertGroup::Ip => format!(" from address {group_key}"),
                    },
                    rule.window_seconds,
                    rule.threshold
                );
                let bucket = now / window_ms;
                let alert = AlertRecord {
                    id: format!("{}:{group_key}:{bucket}", rule.name),
                    rule: rule.name.clone(),
                    group_key,
                    count,
                    window_start_ms: now - window_ms,
                    created_ms: now,
                    message,
                };
                if self.raise(alert.clone()).await? {
                    raised.push(alert);
                }
            }
        }
        Ok(raised)
    }

    /// Stores `alert` unless raised already, together with its `alert`
    /// event, and if new notifies. Returns whether it was new.
    pub async fn raise(&self, alert: AlertRecord) -> Result<bool, CoreError> {
        let event = self
            .log
            .event(EventType::Alert, &AuditContext::service("alerts"))
            .target(Target::new("alert", alert.id.clone()))
            .detail("rule", alert.rule.clone())
            .detail("count", i64::try_from(alert.count).unwrap_or(i64::MAX))
            .detail("message", alert.message.clone());
        if !self.log.store().insert_alert(&alert, &[self.log.seal(&event)?]).await? {
            return Ok(false);
        }
        tracing::warn!(rule = %alert.rule, message = %alert.message, "alert raised");
        if let Some(notifier) = &self.notifier
            && let Err(why) = notifier.notify(&alert).await
        {
            tracing::warn!(rule = %alert.rule, %why, "could not deliver the alert to the webhook");
        }
        Ok(true)
    }

    /// The newest alerts.
    pub async fn recent(&self, limit: u32) -> Result<Vec<AlertRecord>, CoreError> {
        Ok(self.log.store().alerts(limit).await?)
    }
}
