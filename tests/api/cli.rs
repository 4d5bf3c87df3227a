//! The `switchyard` binary's commands on a real database: only `serve` and `migrate` apply
//! the config file, and they apply it only where the file changed, so edits made through the
//! admin API survive read-only commands and restarts.

use std::path::Path;

use serde_json::json;
use switchyard::store::Store;

use crate::helpers::{fresh_database, model, Process, MASTER};

fn registry(one_name: Option<&str>) -> String {
    let mut one = model("t/one", &[("mock", "echo")], &[]);
    if let Some(name) = one_name {
        one = one.replace(
            "slug = \"t/one\"\n",
            &format!("slug = \"t/one\"\nname = \"{name}\"\n"),
        );
    }
    format!(
        "[[providers]]\nid = \"mock\"\nkind = \"mock\"\n\n{one}{}",
        model("t/two", &[("mock", "echo")], &[])
    )
}

/// Runs `switchyard --config FILE args...` on `database_url`: (success, stdout, stderr).
async fn cli(config: &Path, database_url: &str, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("SWITCHYARD_DATABASE_URL", database_url)
        .env("SWITCHYARD_LOG", "info")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn enabled(database_url: &str, slug: &str) -> bool {
    let store = Store::connect(database_url, 1).await.unwrap();
    let rows = store.load_registry().await.unwrap();
    store.close().await;
    rows.models
        .iter()
        .find(|(m, _)| m.slug == slug)
        .unwrap_or_else(|| panic!("no model {slug}"))
        .0
        .enabled
}

#[tokio::test]
async fn read_only_commands_and_restarts_keep_a_model_disabled_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let config = dir.path().join("switchyard.toml");
    std::fs::write(&config, registry(None)).unwrap();
    let envs = [
        ("SWITCHYARD_MASTER_KEY", MASTER),
        ("SWITCHYARD_LOG", "info"),
    ];

    let gateway = Process::start(&registry(None), &db, &envs).await;
    assert!(
        gateway
            .log()
            .contains("config applied: 2 models added, 1 provider added"),
        "{}",
        gateway.log()
    );
    let resp = reqwest::Client::new()
        .patch(gateway.url("/admin/models/t/one"))
        .bearer_auth(MASTER)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    gateway.stop().await;

    // Read-only commands read the database as it is.
    let (ok, _, err) = cli(&config, &db, &["keys", "list"]).await;
    assert!(ok, "{err}");
    assert!(
        !err.contains("config"),
        "keys list applied the config: {err}"
    );
    let (ok, out, err) = cli(&config, &db, &["models", "list"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("t/one (disabled)"), "{out}");
    assert!(!out.contains("t/two (disabled)"), "{out}");
    assert!(!enabled(&db, "t/one").await);

    // A restart with the file as it was keeps the admin edit, and says so.
    let gateway = Process::start(&registry(None), &db, &envs).await;
    let log = gateway.log();
    assert!(log.contains("config unchanged"), "{log}");
    assert!(log.contains("model t/one"), "the kept edit is named: {log}");
    let models = reqwest::get(gateway.url("/v1/models"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !models.contains("t/one") && models.contains("t/two"),
        "{models}"
    );
    gateway.stop().await;
    assert!(!enabled(&db, "t/one").await);
    let (ok, out, err) = cli(&config, &db, &["migrate"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("config unchanged"), "{out}");
    assert!(out.contains("kept admin edits: model t/one"), "{out}");

    // The operator changed the model in the file: the file wins, and says what it replaced.
    std::fs::write(&config, registry(Some("One"))).unwrap();
    let (ok, out, err) = cli(&config, &db, &["migrate"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("config applied: 1 model updated"), "{out}");
    assert!(out.contains("replaced admin edits: model t/one"), "{out}");
    assert!(enabled(&db, "t/one").await);
    let (ok, out, _) = cli(&config, &db, &["migrate"]).await;
    assert!(ok);
    assert!(out.contains("config unchanged"), "{out}");
}

/// `models list` on a database nothing was applied to shows nothing, instead of writing the
/// config file's registry.
#[tokio::test]
async fn models_list_does_not_apply_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let config = dir.path().join("switchyard.toml");
    std::fs::write(&config, registry(None)).unwrap();
    let (ok, out, err) = cli(&config, &db, &["models", "list"]).await;
    assert!(ok, "{err}");
    assert!(!out.contains("t/one"), "{out}");
    let store = Store::connect(&db, 1).await.unwrap();
    assert!(store.load_registry().await.unwrap().models.is_empty());
    store.close().await;
}

/// A relative SQLite path in the config file is relative to the file, wherever the command
/// runs; the environment's stays relative to the working directory.
#[tokio::test]
async fn a_relative_database_path_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, cwd) = (dir.path().join("conf"), dir.path().join("cwd"));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let config = conf.join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://db/gw.db\"\n\n{}",
            registry(None)
        ),
    )
    .unwrap();
    let run = |args: &'static [&'static str], env_url: Option<&'static str>| {
        run_in(&cwd, &config, args, env_url)
    };
    let out = run(&["migrate"], None).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(conf.join("db/gw.db").exists());
    assert!(!cwd.join("db").exists());
    let out = run(&["check-config"], None).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("database: sqlite://{}/db/gw.db", conf.display())),
        "{text}"
    );

    let out = run(&["migrate"], Some("sqlite://env.db")).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(cwd.join("env.db").exists());

    // The shipped config, from another folder: the checkout's data/ either way.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/switchyard.toml");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--config")
        .arg(&shipped)
        .arg("check-config")
        .current_dir(&cwd)
        .env_remove("SWITCHYARD_DATABASE_URL")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "database: sqlite://{}/config/../data/switchyard.db",
            env!("CARGO_MANIFEST_DIR")
        )),
        "{text}"
    );
}

/// Runs `switchyard --config CONFIG args...` in `cwd`, with `SWITCHYARD_DATABASE_URL` set to
/// `env_url` or unset.
async fn run_in(
    cwd: &Path,
    config: &Path,
    args: &[&str],
    env_url: Option<&str>,
) -> std::io::Result<std::process::Output> {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        .env_remove("SWITCHYARD_DATABASE_URL")
        .env("SWITCHYARD_LOG", "warn");
    if let Some(u) = env_url {
        c.env("SWITCHYARD_DATABASE_URL", u);
    }
    c.output().await
}
