//! The `switchyard` binary: parse the command line, load settings, run the command.

// A command-line tool answers on standard output (keys, JSON); the library never prints.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use switchyard::config::{self, EnvOverrides, Settings};
use switchyard::{app, auth, telemetry, App};

/// Switchyard: a self-hosted, OpenAI-compatible LLM gateway.
///
/// Point any OpenAI SDK's base_url at http://HOST:PORT/v1 (or /api/v1, as with OpenRouter).
#[derive(Parser)]
#[command(name = "switchyard", version, propagate_version = true)]
struct Cli {
    /// Config file [default: $SWITCHYARD_CONFIG, else config/switchyard.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway: migrate the database, apply the config's registry where the file
    /// changed (edits made through the admin API survive otherwise), serve HTTP.
    ///
    /// Environment overrides: SWITCHYARD_LISTEN, SWITCHYARD_DATABASE_URL, SWITCHYARD_MASTER_KEY,
    /// SWITCHYARD_REQUIRE_KEYS, SWITCHYARD_LOG (filter), SWITCHYARD_LOG_FORMAT (text|json).
    Serve,
    /// Create or upgrade the database schema and apply the config's registry where the file
    /// changed, say what that did, then exit.
    Migrate,
    /// Validate the config file and print what it defines; exits non-zero when it is invalid.
    CheckConfig,
    /// Manage gateway API keys (works directly on the database; a running gateway picks
    /// changes up within its registry refresh interval). Never touches the model registry.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Probe a running gateway's /v1/health (for container health checks); exits non-zero
    /// unless it answers 200.
    Health {
        /// Base URL of the gateway [default: derived from server.listen]
        #[arg(long)]
        url: Option<String>,
    },
    /// Inspect the model registry as it is in the database (the config file is not applied).
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print it once; only its hash is stored.
    Create {
        /// A label for the key (who or what uses it).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        limits: Box<KeyLimits>,
    },
    /// Change a key's name, limits, allowed models, expiry or metadata (`none` clears a limit).
    Update {
        id: String,
        /// A new label.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        limits: Box<KeyLimits>,
    },
    /// Show one key with its spend (JSON).
    Show { id: String },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id (key_...).
    Revoke { id: String },
}

/// A key's limits on the command line; `none` clears one on update.
#[derive(clap::Args)]
struct KeyLimits {
    /// Budget in US dollars per period (`none`: no budget).
    #[arg(long, value_name = "USD")]
    budget_usd: Option<String>,
    /// When the budget starts again: never, daily, weekly, monthly (UTC).
    #[arg(long, value_name = "PERIOD")]
    budget_reset: Option<String>,
    /// Requests per minute.
    #[arg(long)]
    rpm: Option<String>,
    /// Tokens per minute.
    #[arg(long)]
    tpm: Option<String>,
    /// Requests at a time.
    #[arg(long)]
    max_concurrency: Option<String>,
    /// Comma-separated slugs and author/* patterns.
    #[arg(long, value_name = "LIST")]
    allowed_models: Option<String>,
    /// RFC 3339, e.g. 2027-01-01T00:00:00Z.
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Metadata as a JSON object, e.g. '{"team":"search"}'.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// Disable (true) or enable (false) the key.
    #[arg(long)]
    disabled: Option<bool>,
}

impl KeyLimits {
    /// The same change the admin API takes, so both validate alike.
    fn change(&self, name: Option<String>) -> anyhow::Result<switchyard::types::keys::KeyChange> {
        use serde_json::{json, Map, Value};
        let mut m = Map::new();
        if let Some(n) = name {
            m.insert("name".into(), json!(n));
        }
        let mut number = |field: &str, v: &Option<String>| -> anyhow::Result<()> {
            if let Some(v) = v {
                let value = if v == "none" {
                    Value::Null
                } else {
                    serde_json::from_str::<serde_json::Number>(v)
                        .map(Value::Number)
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "--{}: `{v}` is not a number (or `none`)",
                                field.replace('_', "-")
                            )
                        })?
                };
                m.insert(field.into(), value);
            }
            Ok(())
        };
        number("budget_usd", &self.budget_usd)?;
        number("rpm", &self.rpm)?;
        number("tpm", &self.tpm)?;
        number("max_concurrency", &self.max_concurrency)?;
        if let Some(r) = &self.budget_reset {
            m.insert("budget_reset".into(), json!(r));
        }
        if let Some(list) = &self.allowed_models {
            let v = if list == "none" {
                Value::Null
            } else {
                json!(list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>())
            };
            m.insert("allowed_models".into(), v);
        }
        if let Some(t) = &self.expires_at {
            m.insert(
                "expires_at".into(),
                if t == "none" { Value::Null } else { json!(t) },
            );
        }
        if let Some(j) = &self.metadata {
            let v: Value = serde_json::from_str(j)
                .map_err(|e| anyhow::anyhow!("--metadata: not JSON: {e}"))?;
            m.insert("metadata".into(), v);
        }
        if let Some(d) = self.disabled {
            m.insert("disabled".into(), json!(d));
        }
        serde_json::from_value(Value::Object(m)).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

#[derive(Subcommand)]
enum ModelsAction {
    /// List models with their endpoints and prices.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = config::resolve_path(cli.config.clone());
    let settings = match config::load(&path, &EnvOverrides::from_env()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = App::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            let (store, applied) = app::prepare_store(&settings).await?;
            println!("database migrated ({}); {applied}", store.backend());
            if !applied.replaced_admin_edits.is_empty() {
                println!(
                    "  replaced admin edits: {}",
                    applied.replaced_admin_edits.join(", ")
                );
            }
            if !applied.kept_admin_edits.is_empty() {
                println!(
                    "  kept admin edits: {}",
                    applied.kept_admin_edits.join(", ")
                );
            }
            store.close().await;
            Ok(())
        }
        Command::CheckConfig => {
            println!("{}: valid", settings.source);
            println!("  listen: {}", settings.listen);
            println!(
                "  database: {}",
                switchyard::store::redact_url(&settings.database_url)
            );
            println!("  keys required: {}", settings.require_keys);
            println!(
                "  admin API: {}",
                if settings.master_key.is_some() {
                    "enabled"
                } else {
                    "disabled (SWITCHYARD_MASTER_KEY unset)"
                }
            );
            for p in &settings.providers {
                let key = match &p.api_key_env {
                    None => "no key needed".to_owned(),
                    Some(v) if std::env::var(v).is_ok_and(|x| !x.is_empty()) => format!("{v} set"),
                    Some(v) => format!("{v} NOT set: inactive"),
                };
                println!("  provider {} ({}): {key}", p.id, p.kind.as_str());
            }
            for m in &settings.models {
                let eps: Vec<String> = m
                    .endpoints
                    .iter()
                    .map(|e| format!("{}:{}", e.provider, e.upstream_model))
                    .collect();
                println!("  model {} -> {}", m.slug, eps.join(", "));
            }
            Ok(())
        }
        Command::Keys { action } => {
            let store = app::open_store(&settings).await?;
            match action {
                KeysAction::Create { name, limits } => {
                    let change = limits.change(Some(name.clone()))?;
                    let mut policy = switchyard::types::keys::KeyPolicy::default();
                    change
                        .apply(&mut policy)
                        .map_err(|(f, p)| anyhow::anyhow!("--{}: {p}", f.replace('_', "-")))?;
                    let name = name.trim();
                    switchyard::types::keys::check_key_name(name)
                        .map_err(|e| anyhow::anyhow!("--name: {e}"))?;
                    let new = auth::generate_key();
                    let (row, _) = store
                        .create_key(&switchyard::store::NewKeyRow {
                            id: &new.id,
                            name,
                            key_hash: &new.hash,
                            key_prefix: &new.prefix,
                            policy: &policy,
                            idempotency_key: None,
                        })
                        .await?;
                    println!("{}", new.key);
                    eprintln!(
                        "created key {} ({}); store it now: it is shown only once",
                        row.id, row.name
                    );
                }
                KeysAction::Update { id, name, limits } => {
                    let change = limits.change(name)?;
                    let k = store
                        .get_key(&id)
                        .await?
                        .with_context(|| format!("no key `{id}`"))?;
                    let mut policy = k.policy.clone();
                    change
                        .apply(&mut policy)
                        .map_err(|(f, p)| anyhow::anyhow!("--{}: {p}", f.replace('_', "-")))?;
                    let name = change.name.as_deref().map(str::trim).unwrap_or(&k.name);
                    switchyard::types::keys::check_key_name(name)
                        .map_err(|e| anyhow::anyhow!("--name: {e}"))?;
                    let row = store.update_key(&id, name, &policy).await?;
                    println!("{}", switchyard::http::admin::keys::key_view(&row, None, 0));
                }
                KeysAction::Show { id } => {
                    let k = store
                        .get_key(&id)
                        .await?
                        .with_context(|| format!("no key `{id}`"))?;
                    let spend = store
                        .spend_totals(Some(&id), switchyard::types::now_ms())
                        .await?;
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&switchyard::http::admin::keys::key_view(
                            &k,
                            Some(&spend),
                            0
                        ))?
                    );
                }
                KeysAction::List => {
                    println!(
                        "{:<22} {:<14} {:<24} {:<9} limits",
                        "id", "prefix", "name", "status"
                    );
                    for k in store.list_keys().await? {
                        let p = &k.policy;
                        let status = if k.revoked_at.is_some() {
                            "revoked"
                        } else if p.disabled {
                            "disabled"
                        } else if p.expired(switchyard::types::now_ms()) {
                            "expired"
                        } else {
                            "active"
                        };
                        let mut limits = Vec::new();
                        if let Some(b) = p.budget_nanos {
                            limits.push(format!("${} {}", b as f64 / 1e9, p.budget_reset.as_str()));
                        }
                        for (what, v) in [
                            ("rpm", p.rpm),
                            ("tpm", p.tpm),
                            ("concurrent", p.max_concurrency),
                        ] {
                            if let Some(v) = v {
                                limits.push(format!("{v} {what}"));
                            }
                        }
                        println!(
                            "{:<22} {:<14} {:<24} {status:<9} {}",
                            k.id,
                            k.key_prefix,
                            k.name,
                            limits.join(", ")
                        );
                    }
                }
                KeysAction::Revoke { id } => {
                    let k = store
                        .revoke_key(&id)
                        .await
                        .with_context(|| format!("cannot revoke {id}"))?;
                    println!("revoked {} ({})", k.id, k.name);
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Health { url } => {
            let base = url.unwrap_or_else(|| {
                let mut addr = settings.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            });
            let url = format!("{}/v1/health", base.trim_end_matches('/'));
            let resp = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .with_context(|| format!("cannot reach {url}"))?;
            let status = resp.status();
            println!("{}", resp.text().await.unwrap_or_default());
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
            Ok(())
        }
        Command::Models {
            action: ModelsAction::List,
        } => {
            let store = app::open_store(&settings).await?;
            let rows = store.load_registry().await?;
            for (m, _) in rows.models {
                let state = if m.enabled { "" } else { " (disabled)" };
                println!("{}{state}", m.slug);
                for e in &m.endpoints {
                    println!(
                        "    {} {:<28} ${}/M in, ${}/M out{}",
                        e.provider,
                        e.upstream_model,
                        e.input_price,
                        e.output_price,
                        if e.enabled { "" } else { " (disabled)" }
                    );
                }
            }
            store.close().await;
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
