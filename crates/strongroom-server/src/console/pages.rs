//! The console's pages as maud templates: markup only, every value escaped
//! by maud, no inline script or style (the CSP allows neither).

use maud::{DOCTYPE, Markup, html};
use strongroom_core::audit::{AlertRecord, HourCount};
use strongroom_core::audit_reading::AuditStats;
use strongroom_core::user_management::{MyAccount, SessionDetails};

/// The frame every page shares: title, stylesheet, header.
pub(super) fn frame(title: &str, signed_in: Option<(&str, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Strongroom" }
                link rel="stylesheet" href="/console/console.css";
                link rel="icon" href="/console/favicon.svg" type="image/svg+xml";
                script src="/console/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/console" { "Strongroom" }
                    @if signed_in.is_some() {
                        nav aria-label="Console" {
                            a href="/console" { "Overview" }
                            a href="/console/access-requests" { "Access requests" }
                            a href="/console/records" { "Records" }
                            a href="/console/audit" { "Audit log" }
                            a href="/console/admin" { "Administration" }
                            a href="/console/sessions" { "Your sessions" }
                            a href="/console/passkeys" { "Passkeys" }
                        }
                    }
                    @if let Some((username, form_token)) = signed_in {
                        form.signout method="post" action="/console/logout" {
                            input type="hidden" name="form_token" value=(form_token);
                            span { "Signed in as " strong { (username) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in form; with `challenge`, the second step (the code).
pub(super) fn login(challenge: Option<&str>, message: Option<&str>) -> Markup {
    frame(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(message) = message {
                p.error role="alert" { (message) }
            }
            form.card method="post" action="/console/login" {
                @if let Some(challenge) = challenge {
                    p { "Enter the code from your authenticator app, or a recovery code." }
                    input type="hidden" name="challenge" value=(challenge);
                    label for="code" { "Code" }
                    input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus;
                } @else {
                    label for="username" { "Username" }
                    input #username name="username" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    label for="code" { "Code " span.hint { "(if your account has a second factor)" } }
                    input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code";
                }
                button type="submit" { "Sign in" }
            }
            @if challenge.is_none() {
                form.card.passkey data-passkey="sign-in" hidden {
                    p { "Or, if you added a passkey:" }
                    button type="submit" { "Sign in with a passkey" }
                }
                p #passkey-status.error role="alert" hidden {}
            }
        },
    )
}

/// `1 entry`, `2 entries`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How long ago `then_ms` was, for a human.
fn ago(now_ms: i64, then_ms: i64) -> String {
    let seconds = (now_ms - then_ms).max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// What the overview shows.
pub(super) struct Overview<'a> {
    /// Who is signed in.
    pub account: &'a MyAccount,
    /// How many passkeys they have.
    pub passkeys: usize,
    /// The audit log's figures, for those who read it.
    pub stats: Option<&'a AuditStats>,
    /// Recent alerts, for those who read the audit log.
    pub alerts: Option<&'a [AlertRecord]>,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
}

/// The overview: who is signed in, and for those who read the audit log its
/// figures, its integrity and its open alerts.
pub(super) fn overview(shown: &Overview<'_>, form_token: &str) -> Markup {
    let Overview { account, passkeys, stats, alerts, now_ms } = *shown;
    let user = &account.details.user;
    frame(
        "Overview",
        Some((&user.username, form_token)),
        html! {
            h1 { "Overview" }
            section.card aria-labelledby="you" {
                h2 #you { "You" }
                dl {
                    dt { "Username" } dd { (user.username) }
                    dt { "Name" }
                    dd { @if account.details.profile.full_name.is_empty() { "not given" } @else { (account.details.profile.full_name) } }
                    dt { "Roles" }
                    dd { @for role in &user.roles { span.tag { (role.as_str()) } " " } }
                    dt { "Matters" }
                    dd {
                        @if account.matters.is_empty() { "none" }
                        @for matter in &account.matters { span.tag { (matter) } " " }
                    }
                    dt { "Second factor" }
                    dd { @if user.totp_sealed_secret.is_some() { "enrolled" } @else { "none" } }
                    dt { "Passkeys" }
                    dd { a href="/console/passkeys" { (counted(passkeys as u64, "passkey", "passkeys")) } }
                }
            }
            @if let Some(stats) = stats {
                section.card aria-labelledby="integrity" {
                    h2 #integrity { "Audit log integrity" }
                    dl {
                        dt { "Events" } dd { (stats.head.size) }
                        dt { "Verified" }
                        dd {
                            @if stats.integrity.problems.is_empty() {
                                span.ok { "yes" } " (" (counted(stats.integrity.entries_checked, "entry", "entries")) ", "
                                (counted(stats.integrity.checkpoints_checked as u64, "checkpoint", "checkpoints")) ")"
                            } @else {
                                span.bad { "no: " (stats.integrity.problems.len()) " problems" }
                            }
                        }
                        dt { "Newest checkpoint" }
                        dd {
                            @match &stats.latest_checkpoint {
                                Some(checkpoint) => {
                                    "size " (checkpoint.size) ", signed and anchored " (ago(now_ms, checkpoint.created_ms))
                                }
                                None => "none yet",
                            }
                        }
                        dt { "Failures, last 24 h" } dd { (stats.counts.failures_since) }
                    }
                }
                section.card aria-labelledby="activity" {
                    h2 #activity { "Events in the last 24 hours" }
                    (hourly_chart(&stats.counts.per_hour, now_ms))
                }
                section.card aria-labelledby="events" {
                    h2 #events { "Events by type" }
                    table {
                        thead { tr { th scope="col" { "Type" } th.num scope="col" { "Events" } } }
                        tbody {
                            @for (kind, count) in &stats.counts.per_type {
                                tr { td { (kind) } td.num { (count) } }
                            }
                        }
                    }
                }
            }
            @if let Some(alerts) = alerts {
                section.card aria-labelledby="alerts" {
                    h2 #alerts { "Alerts" }
                    @if alerts.is_empty() {
                        p { "No alerts." }
                    } @else {
                        ul {
                            @for alert in alerts {
                                li { strong { (alert.rule) } ": " (alert.message) " (" (ago(now_ms, alert.created_ms)) ")" }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The last 24 hours' events as bars, one per hour, failures in their own
/// colour: an SVG drawn here, so the page needs no script. Each bar has a
/// title (a tooltip, and what a screen reader says).
fn hourly_chart(per_hour: &[HourCount], now_ms: i64) -> Markup {
    const HOUR_MS: i64 = 3_600_000;
    const BAR: i64 = 20;
    const HEIGHT: u64 = 120;
    let this_hour = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
    let hours: Vec<HourCount> = (0..24)
        .map(|back| this_hour - (23 - back) * HOUR_MS)
        .map(|hour_ms| {
            per_hour
                .iter()
                .find(|h| h.hour_ms == hour_ms)
                .copied()
                .unwrap_or(HourCount { hour_ms, ..HourCount::default() })
        })
        .collect();
    let most = hours.iter().map(|h| h.events).max().unwrap_or(0).max(1);
    let scaled = |n: u64| n.saturating_mul(HEIGHT) / most;
    let total: u64 = hours.iter().map(|h| h.events).sum();
    let failed: u64 = hours.iter().map(|h| h.failures).sum();
    let label = format!("{total} events in the last 24 hours, {failed} failed; the busiest hour had {most}.");
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (24 * BAR) " " (HEIGHT + 20) } role="img" aria-label=(label) {
                @for (slot, hour) in hours.iter().enumerate() {
                    @let x = slot as i64 * BAR;
                    @let all = scaled(hour.events);
                    @let bad = scaled(hour.failures);
                    g {
                        title { (when(hour.hour_ms / 1000)) ": " (hour.events) " events, " (hour.failures) " failed" }
                        rect.events x=(x + 2) y=(HEIGHT - all) width=(BAR - 4) height=(all) {}
                        @if bad > 0 { rect.failures x=(x + 2) y=(HEIGHT - bad) width=(BAR - 4) height=(bad) {} }
                    }
                }
                line.axis x1="0" y1=(HEIGHT) x2=(24 * BAR) y2=(HEIGHT) {}
                text x="0" y=(HEIGHT + 16) { "24 h ago" }
                text x=(24 * BAR) y=(HEIGHT + 16) text-anchor="end" { "now" }
            }
            figcaption { (label) " " span.legend-events { "Events" } " " span.legend-failures { "failures" } }
        }
    }
}

/// A time in Unix seconds, for a human (UTC).
pub(super) fn when(seconds: i64) -> String {
    let text = strongroom_proto::time::rfc3339_from_ms(seconds.saturating_mul(1000));
    text.get(..16).map_or(text.clone(), |minutes| format!("{} UTC", minutes.replace('T', " ")))
}

/// The user's live sessions, this one marked, each with a form to end it.
pub(super) fn sessions(username: &str, listed: &[SessionDetails], current: &str, form_token: &str) -> Markup {
    frame(
        "Your sessions",
        Some((username, form_token)),
        html! {
            h1 { "Your sessions" }
            section.card {
                table {
                    thead {
                        tr {
                            th scope="col" { "Opened" }
                            th scope="col" { "Last seen" }
                            th scope="col" { "From" }
                            th scope="col" { "Client" }
                            th scope="col" { span.visually-hidden { "Action" } }
                        }
                    }
                    tbody {
                        @for listed in listed {
                            tr {
                                td.time data-label="Opened" { (when(listed.session.created_at)) }
                                td.time data-label="Last seen" { (when(listed.session.last_seen_at)) }
                                td data-label="From" { (listed.client.ip.as_deref().unwrap_or("unknown")) }
                                td.client data-label="Client" { (listed.client.user_agent.as_deref().unwrap_or("unknown")) }
                                td {
                                    form method="post" action="/console/sessions/revoke" {
                                        input type="hidden" name="form_token" value=(form_token);
                                        input type="hidden" name="session" value=(listed.session.id);
                                        @if listed.session.id == current {
                                            button type="submit" { "End this session (sign out)" }
                                        } @else {
                                            button type="submit" { "End" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Confirming it is you (a recent second factor): a TOTP code, or a passkey
/// (the script shows that button where the browser can use one). `back` is
/// the page that asked.
pub(super) fn step_up(form_token: &str, back: &str, why: &str) -> Markup {
    html! {
        section.card.step-up aria-labelledby="step-up" {
            h2 #step-up { "Confirm it is you" }
            p { (why) }
            form.stack method="post" action="/console/step-up" {
                input type="hidden" name="form_token" value=(form_token);
                input type="hidden" name="back" value=(back);
                label for="step-up-code" { "Code from your authenticator app" }
                input #step-up-code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required;
                button type="submit" { "Confirm" }
            }
            form data-passkey="step-up" data-back=(back) hidden {
                button.secondary type="submit" { "Confirm with a passkey" }
            }
            p #passkey-status.error role="alert" hidden {}
        }
    }
}

/// A step-up code that was wrong: the form again.
pub(super) fn step_up_refused(username: &str, form_token: &str, back: &str) -> Markup {
    frame(
        "Confirm it is you",
        Some((username, form_token)),
        html! {
            h1 { "Confirm it is you" }
            p.error role="alert" { "That code is not valid now." }
            (step_up(form_token, back, "Enter a current code, then try again."))
        },
    )
}

/// A request refused before it was read (another origin, a missing form token).
pub(super) fn refused() -> Markup {
    frame(
        "Refused",
        None,
        html! {
            h1 { "Refused" }
            p { "This request did not come from a page of this console. " a href="/console" { "Back to the console" } }
        },
    )
}

/// The server could not answer (a dependency is down): nothing was changed.
pub(super) fn failure() -> Markup {
    frame(
        "Unavailable",
        None,
        html! {
            h1 { "Unavailable" }
            p { "The server cannot answer right now. Try again in a moment." }
        },
    )
}
