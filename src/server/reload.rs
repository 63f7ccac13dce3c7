//! Front end (server): hot reload. A change under the mappings folder (debounced) or SIGHUP
//! compiles the spec set on a blocking thread and swaps it in; an invalid set is refused and
//! its diagnostics are logged and kept for /health. A set that no longer has a destination
//! being served is held back (logged at WARN, shown on /health) until the removal is
//! confirmed: it still holds `removal_grace` later, or a SIGHUP asks for it. So a folder moved
//! away for a moment, or an editor's save-by-rename, never stops a destination.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::Watcher;

use super::{AppState, Registry};
use crate::spec::Mappings;

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    /// A file changed.
    Change,
    /// SIGHUP: the operator confirms whatever the specs now say.
    Hangup,
    /// A held-back removal's grace has passed: look again.
    Recheck,
}

/// Starts the watcher (for a mappings folder) and the SIGHUP listener.
pub fn spawn(state: Arc<AppState>, debounce: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Trigger>(16);
    if let Mappings::Dir(dir) = &state.mappings {
        let tx = tx.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res
                && !matches!(ev.kind, notify::EventKind::Access(_))
            {
                let _ = tx.try_send(Trigger::Change);
            }
        });
        match watcher {
            Ok(mut w) => match w.watch(dir, notify::RecursiveMode::Recursive) {
                Ok(()) => {
                    // The watcher lives as long as the process.
                    std::mem::forget(w);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the mappings folder; reload with SIGHUP")
                }
            },
            Err(e) => tracing::warn!(error = %e, "no file watcher; reload with SIGHUP"),
        }
    }
    #[cfg(unix)]
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading specs");
                let _ = tx.send(Trigger::Hangup).await;
            }
        });
    }
    let recheck = tx.clone();
    drop(tx);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            tokio::time::sleep(debounce).await;
            let mut confirm = first == Trigger::Hangup;
            while let Ok(t) = rx.try_recv() {
                confirm |= t == Trigger::Hangup;
            }
            if reload_with(&state, confirm).await {
                // A removal is held back: look again once its grace has passed.
                let tx = recheck.clone();
                let grace = state.removal_grace;
                tokio::spawn(async move {
                    tokio::time::sleep(grace + Duration::from_millis(50)).await;
                    let _ = tx.send(Trigger::Recheck).await;
                });
            }
        }
    });
}

/// Compiles the spec set again and swaps it in if it is valid, a removal taking effect only
/// once confirmed. Returns whether a removal is being held back.
async fn reload_with(state: &Arc<AppState>, confirm: bool) -> bool {
    let mappings = state.mappings.clone();
    let result = tokio::task::spawn_blocking(move || Registry::load(&mappings)).await;
    let result = result.unwrap_or_else(|e| Err(format!("reload task failed: {e}")));
    let mut status = state
        .reload
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    status.last_reload = Some(SystemTime::now());
    match result {
        Ok(registry) => {
            let names: Vec<String> = registry.names().into_iter().map(str::to_owned).collect();
            let removed: Vec<String> = state
                .registry
                .load()
                .names()
                .into_iter()
                .filter(|n| !names.iter().any(|m| m == n))
                .map(str::to_owned)
                .collect();
            if !removed.is_empty() && !confirm {
                let now = SystemTime::now();
                let since = match &status.pending_removal {
                    Some((prior, since)) if *prior == removed => *since,
                    _ => now,
                };
                let waited = now.duration_since(since).unwrap_or_default();
                if waited < state.removal_grace {
                    tracing::warn!(
                        removed = ?removed,
                        grace_s = state.removal_grace.as_secs_f64(),
                        "the specs no longer have destinations being served; still serving them until the removal holds past the grace period or SIGHUP confirms it"
                    );
                    status.pending_removal = Some((removed, since));
                    return true;
                }
            }
            if !removed.is_empty() {
                tracing::warn!(removed = ?removed, "destinations removed");
            }
            status.pending_removal = None;
            state.registry.store(Arc::new(registry));
            state.metrics.reloaded(true);
            status.last_error = None;
            tracing::info!(destinations = ?names, "specs reloaded");
        }
        Err(diagnostics) => {
            state.metrics.reloaded(false);
            tracing::error!(%diagnostics, "specs refused; still serving the previous set");
            status.last_error = Some(diagnostics);
        }
    }
    false
}
