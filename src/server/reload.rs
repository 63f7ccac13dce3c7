//! Front end (server): hot reload. A change under the mappings folder (debounced) or SIGHUP
//! compiles the spec set on a blocking thread and swaps it in; an invalid set is refused and
//! its diagnostics are logged and kept for /health.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::Watcher;

use super::{AppState, Registry};
use crate::spec::Mappings;

/// Starts the watcher (for a mappings folder) and the SIGHUP listener.
pub fn spawn(state: Arc<AppState>, debounce: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    if let Mappings::Dir(dir) = &state.mappings {
        let tx = tx.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res
                && !matches!(ev.kind, notify::EventKind::Access(_))
            {
                let _ = tx.try_send(());
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
                let _ = tx.send(()).await;
            }
        });
    }
    drop(tx);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(debounce).await;
            while rx.try_recv().is_ok() {}
            reload(&state).await;
        }
    });
}

/// Compiles the spec set again and swaps it in if it is valid.
pub async fn reload(state: &Arc<AppState>) {
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
}
