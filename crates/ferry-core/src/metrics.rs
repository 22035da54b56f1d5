//! The core's metrics, through the `metrics` facade (nothing is recorded unless the binary
//! installs a recorder): jobs and deliveries as they happen, and gauges read from the database
//! by [`Service::refresh_gauges`], which the binary calls periodically (never per scrape).

use ferry_domain::{ConnectionStatus, JobType};
use metrics::{counter, gauge, histogram};

use crate::{Result, Service};

/// A job's run ended: `outcome` is `succeeded`, `failed`, `challenged`, `given_up` or `error`
/// (ours: it is retried).
pub(crate) fn job_ran(job_type: JobType, outcome: &'static str) {
    counter!("ferry_jobs_total", "type" => job_type.as_str(), "outcome" => outcome).increment(1);
}

pub(crate) fn job_duration(job_type: JobType, seconds: f64) {
    histogram!("ferry_job_duration_seconds", "type" => job_type.as_str()).record(seconds);
}

/// A delivery attempt ended: `delivered`, `retrying` or `failed` (given up); on delivery, the
/// lag from the event's creation.
pub(crate) fn delivery_attempted(outcome: &'static str, lag_seconds: Option<f64>) {
    counter!("ferry_webhook_deliveries_total", "outcome" => outcome).increment(1);
    if let Some(lag) = lag_seconds {
        histogram!("ferry_webhook_delivery_lag_seconds").record(lag.max(0.0));
    }
}

impl Service {
    /// Sets the gauges that come from the database: members by connection status (every
    /// status, 0 when none), queued jobs, and this process's connections.
    pub async fn refresh_gauges(&self) -> Result<()> {
        let counts = self.db().count_members_by_status().await?;
        for status in ConnectionStatus::ALL {
            let n = counts.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
            gauge!("ferry_members", "connection_status" => status.as_str()).set(n as f64);
        }
        gauge!("ferry_jobs_queued").set(self.db().count_queued_jobs().await? as f64);
        self.record_connection_use();
        Ok(())
    }

    /// Sets the connection gauges (no database round trip: cheap enough for every scrape).
    pub fn record_connection_use(&self) {
        for c in self.db().connection_use() {
            gauge!("ferry_db_connections", "pool" => c.pool, "state" => "open").set(f64::from(c.open));
            gauge!("ferry_db_connections", "pool" => c.pool, "state" => "busy").set(f64::from(c.busy));
        }
    }
}
