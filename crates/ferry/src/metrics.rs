//! `--metrics-listen ADDR`: Prometheus metrics on a listener of their own (never on the API's),
//! through the `metrics` facade and its Prometheus exporter. The gauges that need the database
//! are refreshed on a timer, so a scrape costs no query.

use std::time::Duration;

use anyhow::{Context, Result};
use axum::http::header;
use axum::response::IntoResponse;
use ferry_core::Service;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Where metrics are served, and how often the database gauges are read.
#[derive(clap::Args, Clone)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (off unless set). Keep it off the public
    /// network: it has no authentication.
    #[arg(long, env = "FERRY_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Seconds between readings of the gauges that come from the database (members by status,
    /// queued jobs).
    #[arg(long, env = "FERRY_METRICS_REFRESH_SECS", default_value_t = 15)]
    pub metrics_refresh_secs: u64,
}

const HTTP_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const JOB_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
const LAG_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// Installs the recorder and starts serving, when `--metrics-listen` is set. Prints the address.
pub async fn start(args: &MetricsArgs, service: &Service) -> Result<()> {
    let Some(listen) = &args.metrics_listen else { return Ok(()) };
    let listener = tokio::net::TcpListener::bind(listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics"))?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("ferry_http_request_duration_seconds".into()), HTTP_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full("ferry_job_duration_seconds".into()), JOB_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full("ferry_webhook_delivery_lag_seconds".into()), LAG_BUCKETS)?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    describe();
    let local = listener.local_addr()?;
    let refresher = service.clone();
    let every = Duration::from_secs(args.metrics_refresh_secs.max(1));
    tokio::spawn(async move {
        loop {
            if let Err(e) = refresher.refresh_gauges().await {
                tracing::warn!(error = %e, "could not read the metrics gauges");
            }
            tokio::time::sleep(every).await;
        }
    });
    let scraped = service.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (service, handle) = (scraped.clone(), handle.clone());
            async move { render(&service, &handle) }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    println!("Metrics on http://{local}/metrics");
    tracing::info!(%local, "serving metrics");
    Ok(())
}

fn render(service: &Service, handle: &PrometheusHandle) -> axum::response::Response {
    service.record_connection_use();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("ferry_http_requests_total", "HTTP requests by dialect, route template and status.");
    describe_histogram!(
        "ferry_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by dialect and route template."
    );
    describe_counter!("ferry_jobs_total", "Job runs by type and outcome.");
    describe_histogram!("ferry_job_duration_seconds", metrics::Unit::Seconds, "How long a job run takes, by type.");
    describe_gauge!("ferry_jobs_queued", "Jobs waiting for a worker (read periodically).");
    describe_counter!("ferry_webhook_deliveries_total", "Webhook delivery attempts by outcome.");
    describe_histogram!(
        "ferry_webhook_delivery_lag_seconds",
        metrics::Unit::Seconds,
        "From an event's creation to its delivery."
    );
    describe_gauge!("ferry_members", "Members by connection status (read periodically).");
    describe_gauge!("ferry_db_connections", "This process's database connections, open and busy, by pool.");
}
