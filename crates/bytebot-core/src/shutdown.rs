//! The shutdown signal every daemon waits for: SIGINT (Ctrl-C) or SIGTERM (what
//! Docker and Fly.io send).

/// Resolves when the process receives SIGINT or SIGTERM (on non-Unix, Ctrl-C only).
///
/// Daemons pass this to their `run(config, shutdown)`; tests pass their own future.
/// If a signal handler cannot be installed, this never resolves for that signal
/// rather than shutting the daemon down at once.
pub async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT; shutting down"),
        () = terminate => tracing::info!("received SIGTERM; shutting down"),
    }
}
