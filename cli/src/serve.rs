//! `hitl serve`: the reviewers' HTTP API and review page on this machine, backed by the local
//! runtime (SQLite store, in-process engine, virtual clock); and `hitl reviewers`, which
//! manages the local reviewers file (names, groups and SHA-256 hashes of bearer tokens).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hitl_api::identity::ReviewersFile;
use hitl_api::identity::WatchedReviewerTokens;
use hitl_api::AppState;

use hitl_cli::local::Runtime;

/// Name of the reviewers file in the data directory.
pub const REVIEWERS_FILE: &str = "reviewers.json";

/// `hitl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (keep it on loopback unless you put TLS in front).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Reviewers file [default: <data-dir>/reviewers.json].
    #[arg(long, value_name = "FILE")]
    pub reviewers: Option<PathBuf>,
    /// Also sign reviewers in with this OpenID Connect issuer (authorization code + PKCE on the
    /// page; ID tokens verified against the issuer's keys). Reviewer tokens keep working.
    #[arg(long, value_name = "URL", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The page's client id at the issuer: the audience ID tokens must be issued for.
    #[arg(long, value_name = "CLIENT_ID", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// Connections served at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = hitl_api::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections: u16,
    /// Connections served at once from one client address (at most --max-connections); more
    /// are answered 503 at once, so one client holding half-sent requests cannot starve the
    /// others. Behind a reverse proxy, where every connection comes from the proxy, set it to
    /// --max-connections.
    #[arg(long, value_name = "N", default_value_t = hitl_api::DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections_per_client: u16,
    /// A generator's price per million tokens, input/output (repeat per generator), as
    /// `hitl report --price`: `GET /analytics` then shows what an approved artifact cost.
    #[arg(long = "price", value_name = "GENERATOR=IN/OUT",
        value_parser = hitl_domain::analytics::parse_price)]
    pub prices: Vec<(String, hitl_domain::analytics::Price)>,
}

impl ServeArgs {
    /// The server's limits, or why the flags do not make sense together.
    pub fn limits(&self) -> Result<hitl_api::ServeLimits> {
        anyhow::ensure!(
            self.max_connections_per_client <= self.max_connections,
            "--max-connections-per-client ({}) must not exceed --max-connections ({})",
            self.max_connections_per_client,
            self.max_connections
        );
        Ok(hitl_api::ServeLimits {
            max_connections: usize::from(self.max_connections),
            max_connections_per_client: usize::from(self.max_connections_per_client),
            ..hitl_api::ServeLimits::default()
        })
    }

    /// Fills the default reviewers file from the data directory.
    pub fn with_data_dir(mut self, data_dir: &Path) -> Self {
        self.reviewers
            .get_or_insert_with(|| data_dir.join(REVIEWERS_FILE));
        self
    }
}

/// Serves the API and the review page until the process is stopped. In the background it
/// fires due timeouts and delivers queued resumptions, as the other commands do on start.
pub async fn run(runtime: &Runtime, args: ServeArgs) -> Result<ExitCode> {
    let limits = args.limits()?;
    let path = args
        .reviewers
        .clone()
        .unwrap_or_else(|| PathBuf::from(".hitl").join(REVIEWERS_FILE));
    let tokens = WatchedReviewerTokens::load(&path)?;
    if tokens.is_empty() {
        eprintln!(
            "warning: no reviewers in {}; add one with `hitl reviewers add <name> --groups reviewers`",
            path.display()
        );
    }
    let tokens: Arc<dyn hitl_api::identity::IdentitySource> = Arc::new(tokens);
    let (identity, page_auth): (Arc<dyn hitl_api::identity::IdentitySource>, _) =
        match (&args.oidc_issuer, &args.oidc_audience) {
            (Some(issuer), Some(audience)) => {
                let verifier = oidc_verifier(issuer, audience)
                    .await
                    .with_context(|| format!("reading the OIDC issuer {issuer}"))?;
                eprintln!(
                    "reviewers sign in with {issuer} (client {audience}) or a reviewer token"
                );
                (
                    Arc::new(hitl_api::oidc::SignIn::new(
                        tokens,
                        Some(Arc::clone(&verifier)),
                    )) as Arc<dyn hitl_api::identity::IdentitySource>,
                    verifier.page_auth(),
                )
            }
            _ => (tokens, hitl_api::oidc::PageAuth::Token),
        };
    let ports = runtime
        .ports
        .clone()
        .with_prices(args.prices.iter().cloned().collect());
    let state = AppState::over(ports, identity).with_page_auth(page_auth);
    let listener = hitl_api::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!(
        "review page on http://{addr}/ — reviewers from {} — Ctrl-C to stop",
        path.display()
    );
    let page_url = format!("http://{addr}/");
    let housekeeping = async {
        for tick in 0u64.. {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // Review reminders due on the (virtual) clock, with links to this page.
            if tick % 10 == 0 {
                if let Err(e) = runtime.send_reminders(Some(page_url.clone())).await {
                    tracing::warn!(error = %e, "sending review reminders failed");
                }
            }
            if let Err(e) = runtime.engine.run_due().await {
                tracing::warn!(error = %e, "firing due timeouts failed");
            }
            if let Err(e) = runtime.settle().await {
                tracing::warn!(error = %e, "delivering queued resumptions failed");
            }
        }
    };
    tokio::select! {
        served = hitl_api::serve_with(listener, state, limits) => served.context("serving")?,
        () = housekeeping => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "fetching {url}: HTTP {}",
        response.status()
    );
    response
        .json()
        .await
        .with_context(|| format!("reading {url}"))
}

/// A verifier for `issuer`'s ID tokens issued to `audience`: reads the discovery document and
/// the key set, and keeps the keys fresh in the background (every
/// [`hitl_api::oidc::JWKS_REFRESH`], and soon after a token names an unknown key).
async fn oidc_verifier(issuer: &str, audience: &str) -> Result<Arc<hitl_api::oidc::OidcVerifier>> {
    use hitl_api::oidc::{Discovery, OidcVerifier, JWKS_REFRESH};
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let issuer = issuer.trim_end_matches('/');
    let discovery: Discovery =
        fetch_json(&http, &format!("{issuer}/.well-known/openid-configuration")).await?;
    anyhow::ensure!(
        discovery.issuer.trim_end_matches('/') == issuer,
        "the discovery document names issuer {:?}, not {issuer:?}",
        discovery.issuer
    );
    let keys = fetch_json(&http, &discovery.jwks_uri).await?;
    let wanted = Arc::new(tokio::sync::Notify::new());
    let signal = Arc::clone(&wanted);
    let verifier = Arc::new(OidcVerifier::new(
        discovery,
        keys,
        audience,
        hitl_api::identity::JwtClaims::from_env(),
        Some(Box::new(move || signal.notify_one())),
    ));
    let weak = Arc::downgrade(&verifier);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(JWKS_REFRESH) => {}
                () = wanted.notified() => {}
            }
            let Some(verifier) = weak.upgrade() else {
                return;
            };
            match fetch_json(&http, &verifier.discovery().jwks_uri).await {
                Ok(keys) => verifier.replace_keys(keys),
                Err(e) => {
                    tracing::warn!(error = %e, "refreshing the OIDC keys failed; keeping the old ones")
                }
            }
        }
    });
    Ok(verifier)
}

/// `hitl reviewers`.
#[derive(Debug, Args)]
pub struct ReviewersArgs {
    /// Reviewers file [default: <data-dir>/reviewers.json].
    #[arg(long, value_name = "FILE", global = true)]
    pub file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReviewersCommand,
}

/// `hitl reviewers` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReviewersCommand {
    /// Add a reviewer (or replace their token): prints a fresh token once; only its hash is kept.
    Add {
        /// Name recorded in the audit trail.
        name: String,
        /// Groups, comma-separated (`admin` may decide every workflow).
        #[arg(long, value_delimiter = ',', required = true)]
        groups: Vec<String>,
    },
    /// Remove a reviewer: their token stops working at once, also on a running `hitl serve`.
    Remove {
        /// The reviewer's name.
        name: String,
    },
    /// Give a reviewer a fresh token (printed once); the old one stops working at once.
    Rotate {
        /// The reviewer's name.
        name: String,
    },
    /// List reviewers and their groups (tokens are not stored, so none are shown).
    List,
}

/// Runs `hitl reviewers …`; needs no runtime.
pub fn reviewers(args: ReviewersArgs, data_dir: &Path, as_json: bool) -> Result<ExitCode> {
    let path = args.file.unwrap_or_else(|| data_dir.join(REVIEWERS_FILE));
    let mut file = ReviewersFile::load(&path)?;
    match args.command {
        ReviewersCommand::Add { name, groups } => {
            let token = file.add(&name, &groups)?;
            file.save(&path)?;
            if as_json {
                println!(
                    "{}",
                    serde_json::json!({"name": name.trim(), "groups": groups, "token": token, "file": path})
                );
            } else {
                println!("reviewer {} added to {}", name.trim(), path.display());
                println!("token (shown once; only its SHA-256 is stored): {token}");
                println!(
                    "sign in on the review page with it, or send `Authorization: Bearer <token>`"
                );
            }
        }
        ReviewersCommand::Remove { name } => {
            file.remove(&name)?;
            file.save(&path)?;
            if as_json {
                println!(
                    "{}",
                    serde_json::json!({"removed": name.trim(), "file": path})
                );
            } else {
                println!("reviewer {} removed from {}", name.trim(), path.display());
            }
        }
        ReviewersCommand::Rotate { name } => {
            let token = file.rotate(&name)?;
            file.save(&path)?;
            if as_json {
                println!(
                    "{}",
                    serde_json::json!({"name": name.trim(), "token": token, "file": path})
                );
            } else {
                println!(
                    "reviewer {} has a new token; the old one no longer works",
                    name.trim()
                );
                println!("token (shown once; only its SHA-256 is stored): {token}");
            }
        }
        ReviewersCommand::List => {
            if as_json {
                let list: Vec<_> = file
                    .reviewers
                    .iter()
                    .map(|r| serde_json::json!({"name": r.name, "groups": r.groups}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                let rows: Vec<Vec<String>> = file
                    .reviewers
                    .iter()
                    .map(|r| vec![r.name.clone(), r.groups.join(",")])
                    .collect();
                println!("{}", hitl_cli::format::table(&["NAME", "GROUPS"], &rows));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
