//! What the benchmarks share: a fresh database (a SQLite file, or a PostgreSQL database made
//! beside the one an admin URL names and dropped afterwards) and a Service with one client.

use std::sync::Arc;

use ferry_core::{Db, Keyring, MasterKey, RandomIds, Service, SystemClock};
use ferry_domain::Client;

pub type BoxError = Box<dyn std::error::Error>;

pub struct Bench {
    pub db: Db,
    pub service: Service,
    pub client: Client,
    postgres: Option<(String, String)>,
}

impl Bench {
    /// `admin`: a `postgres://` URL, or anything else for a SQLite file in a temp dir.
    #[allow(dead_code)] // Not every benchmark uses the default configuration.
    pub async fn start(name: &str, admin: Option<&String>) -> Result<Bench, BoxError> {
        Self::start_with(name, admin, ferry_core::Config::default()).await
    }

    pub async fn start_with(name: &str, admin: Option<&String>, config: ferry_core::Config) -> Result<Bench, BoxError> {
        let (url, postgres) = match admin {
            Some(admin) if admin.starts_with("postgres") => {
                let db_name = format!("ferry_{name}_{}", std::process::id());
                (ferry_store::create_postgres_database(admin, &db_name).await?, Some((admin.clone(), db_name)))
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("ferry-{name}-{}", std::process::id()));
                std::fs::create_dir_all(&dir)?;
                (format!("sqlite://{}/bench.db", dir.display()), None)
            }
        };
        let db = Db::connect(&url).await?;
        db.migrate().await?;
        let keyring = Keyring::new(&MasterKey::generate(), &[]);
        let service = Service::with_config(db.clone(), keyring, Arc::new(SystemClock), Arc::new(RandomIds), config)
            .with_connector("sandbox", Arc::new(ferry_connector::Sandbox));
        let (client, _) = service.create_client("bench").await?;
        Ok(Bench { db, service, client, postgres })
    }

    pub async fn finish(self) -> Result<(), BoxError> {
        self.db.close().await;
        if let Some((admin, name)) = self.postgres {
            if std::env::var_os("FERRY_BENCH_KEEP").is_some() {
                println!("kept database {name}");
            } else {
                ferry_store::drop_postgres_database(&admin, &name).await?;
            }
        }
        Ok(())
    }
}
