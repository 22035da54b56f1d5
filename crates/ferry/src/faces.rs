//! `ferry simplefin ...` and `ferry ofx ...`: what an operator does for the server faces
//! (issue setup tokens, list and revoke access, set OFX passwords, print client settings).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ferry_core::{Db, RandomIds, Service, SystemClock, UserRef};
use ferry_domain::Client;
use serde_json::json;

/// Which faces `ferry serve` shows (both off by default).
#[derive(clap::Args, Clone, Default)]
pub struct FaceArgs {
    /// Serve the SimpleFIN protocol (setup-token claims, /simplefin/accounts) for apps such as
    /// Actual Budget, Firefly III's importer and Home Assistant.
    #[arg(long, env = "FERRY_SIMPLEFIN", value_parser = clap::builder::BoolishValueParser::new())]
    pub simplefin: bool,
    /// Serve OFX Direct Connect (POST /ofx) for apps such as GnuCash, Moneydance and ofxget.
    #[arg(long, env = "FERRY_OFX", value_parser = clap::builder::BoolishValueParser::new())]
    pub ofx: bool,
    /// Which pages may embed the Connect widget: a CSP `frame-ancestors` source list such as
    /// `https://app.example.com 'self'`. Default: any page (embedding is the point).
    #[arg(long, env = "FERRY_WIDGET_FRAME_ANCESTORS", value_parser = parse_frame_ancestors)]
    pub widget_frame_ancestors: Option<String>,
}

fn parse_frame_ancestors(s: &str) -> Result<String, String> {
    ferry_api::widget_frame_ancestors(s).map(|v| v.unwrap_or_else(|| "*".into()))
}

impl FaceArgs {
    pub fn faces(&self) -> ferry_api::faces::Faces {
        ferry_api::faces::Faces { simplefin: self.simplefin, ofx: self.ofx }
    }

    /// The widget's `frame-ancestors`, `None` for any page.
    pub fn frame_ancestors(&self) -> Option<String> {
        self.widget_frame_ancestors.clone().filter(|v| v != "*")
    }
}

#[derive(clap::Subcommand)]
pub enum SimplefinCommand {
    /// Issue a one-time setup token (valid 24 hours) for a user, to paste into a SimpleFIN app.
    Token {
        #[arg(long)]
        client: String,
        /// The user's guid or partner id.
        #[arg(long)]
        user: String,
        /// The URL apps reach this server at (the claim URL is built on it).
        #[arg(long, env = "FERRY_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        /// Print {"setup_token": ...}.
        #[arg(long)]
        json: bool,
    },
    /// List a client's SimpleFIN access URLs (never their secrets).
    List {
        #[arg(long)]
        client: String,
        /// Only this user's (guid or partner id).
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an access URL: its app gets 403 from then on.
    Revoke {
        #[arg(long)]
        client: String,
        /// The access's guid (SFA-...), from `ferry simplefin list`.
        guid: String,
    },
}

#[derive(clap::Subcommand)]
pub enum OfxCommand {
    /// Set a user's OFX password and print the user ID to sign on with.
    Password {
        #[arg(long)]
        client: String,
        /// The user's guid or partner id.
        #[arg(long)]
        user: String,
        /// The password (8 to 32 characters); read from standard input when omitted.
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print what to type into an OFX app (GnuCash's "Online banking setup", ofxget).
    Info {
        /// The URL apps reach this server at.
        #[arg(long, env = "FERRY_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        /// Print {"url", "org", "fid"}.
        #[arg(long)]
        json: bool,
    },
}

/// A service for these commands: nothing they do is sealed, so no master key is read.
fn service(db: Db, public_url: Option<String>) -> Service {
    let keyring = ferry_core::Keyring::new(&ferry_core::MasterKey::generate(), &[]);
    let mut config = ferry_core::Config::default();
    if let Some(url) = public_url {
        config.public_url = url;
    }
    Service::with_config(db, keyring, Arc::new(SystemClock), Arc::new(RandomIds), config)
}

async fn client_of(service: &Service, id: &str) -> Result<Client> {
    service.list_clients().await?.into_iter().find(|c| c.id.as_str() == id).with_context(|| format!("no client {id}"))
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub async fn simplefin(db: Db, command: SimplefinCommand) -> Result<()> {
    match command {
        SimplefinCommand::Token { client, user, public_url, json } => {
            check_url(&public_url)?;
            let service = service(db, Some(public_url));
            let client = client_of(&service, &client).await?;
            let token = service
                .issue_simplefin_token(&client, &UserRef::guid_or_id(&user))
                .await
                .with_context(|| format!("cannot issue a setup token for user {user}"))?;
            if json {
                println!("{}", json!({ "setup_token": token.setup_token, "expires_at": rfc3339(token.expires_at) }));
            } else {
                println!("{}", token.setup_token);
                eprintln!(
                    "(one-time setup token, valid until {}; claiming it needs `ferry serve --simplefin`)",
                    rfc3339(token.expires_at)
                );
            }
        }
        SimplefinCommand::List { client, user, json } => {
            let service = service(db, None);
            let client = client_of(&service, &client).await?;
            let user = user.as_deref().map(UserRef::guid_or_id);
            let list = service.list_simplefin_access(&client, user.as_ref()).await.context("cannot list access")?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|a| {
                        json!({
                            "guid": a.guid,
                            "user_guid": a.user_guid.as_str(),
                            "user_id": a.user_id,
                            "username": a.username,
                            "created_at": rfc3339(a.created_at),
                            "last_used_at": a.last_used_at.map(rfc3339),
                            "revoked_at": a.revoked_at.map(rfc3339),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for a in list {
                    let state = match a.revoked_at {
                        Some(t) => format!("revoked {}", rfc3339(t)),
                        None => format!("last used {}", a.last_used_at.map(rfc3339).unwrap_or_else(|| "never".into())),
                    };
                    println!("{}\t{}\tcreated {}\t{state}", a.guid, a.user_guid, rfc3339(a.created_at));
                }
            }
        }
        SimplefinCommand::Revoke { client, guid } => {
            let service = service(db, None);
            let client = client_of(&service, &client).await?;
            service.revoke_simplefin_access(&client, &guid).await.with_context(|| format!("cannot revoke {guid}"))?;
            println!("revoked {guid}");
        }
    }
    Ok(())
}

pub async fn ofx(db: Db, command: OfxCommand) -> Result<()> {
    match command {
        OfxCommand::Password { client, user, password, json } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let service = service(db, None);
            let client = client_of(&service, &client).await?;
            let login = service
                .set_ofx_password(&client, &UserRef::guid_or_id(&user), &password)
                .await
                .with_context(|| format!("cannot set the OFX password of user {user}"))?;
            if json {
                println!("{}", json!({ "user_id": login }));
            } else {
                println!("OFX user ID: {login}");
            }
        }
        OfxCommand::Info { public_url, json } => ofx_info(&public_url, json)?,
    }
    Ok(())
}

/// `ferry ofx info`: needs no database.
pub fn ofx_info(public_url: &str, json: bool) -> Result<()> {
    check_url(public_url)?;
    let url = format!("{}/ofx", public_url.trim_end_matches('/'));
    let (org, fid) = (ferry_api::faces::ofx::ORG, ferry_api::faces::ofx::FID);
    if json {
        println!("{}", json!({ "url": url, "org": org, "fid": fid }));
    } else {
        println!("URL: {url}");
        println!("ORG: {org}");
        println!("FID: {fid}");
        println!("User ID and password: from `ferry ofx password` (the server needs --ofx)");
    }
    Ok(())
}

fn check_url(url: &str) -> Result<()> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => bail!("--public-url must be an http(s) URL, such as https://ferry.example.com"),
    }
}
