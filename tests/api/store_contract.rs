//! One story over `Store`, run on SQLite and (in the PostgreSQL run) on PostgreSQL.

use switchyard::store::{AttemptRecord, Origin, RequestRecord, Store};
use switchyard::types::registry::{EndpointDecl, ModelDecl, ProviderDecl, ProviderKind};

use crate::helpers::fresh_database;

fn record(i: usize) -> RequestRecord {
    RequestRecord {
        id: format!("gen-{i:05}"),
        created_at: 1_000 + i as i64,
        key_id: (i % 2 == 0).then(|| "key_a".to_owned()),
        requested_model: Some("a/b".into()),
        served_model: Some("a/b".into()),
        provider: Some("p".into()),
        outcome: "success".into(),
        status: 200,
        streamed: i % 3 == 0,
        prompt_tokens: 10,
        completion_tokens: i as i64,
        cost_nanos: 123,
        error: (i == 7).then(|| "quote ' and \" and ünïcode".to_owned()),
        attempts: (0..2)
            .map(|k| AttemptRecord {
                provider: format!("p{k}"),
                model: "a/b".into(),
                upstream_model: "up".into(),
                outcome: if k == 0 { "status".into() } else { "ok".into() },
                status: Some(if k == 0 { 503 } else { 200 }),
                error: None,
                latency_ms: 5,
            })
            .collect(),
        ..RequestRecord::default()
    }
}

#[tokio::test]
async fn store_story() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store = Store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent

    // Registry: declare, read back, redeclare (replacing endpoints), bump versions.
    let v0 = store.registry_version().await.unwrap();
    let provider = ProviderDecl {
        base_url: Some("http://x/v1".into()),
        api_key_env: Some("K".into()),
        ..ProviderDecl::new("p", ProviderKind::Openai)
    };
    let endpoint = |u: &str| EndpointDecl {
        provider: "p".into(),
        upstream_model: u.into(),
        input_price: 0.5,
        output_price: 1.5,
        supported_parameters: Some(vec!["tools".into()]),
        enabled: true,
    };
    let mut model = ModelDecl {
        slug: "a/b".into(),
        name: Some("A B".into()),
        aliases: vec!["ab".into()],
        context_length: Some(1000),
        supported_parameters: vec!["temperature".into()],
        fallbacks: vec![],
        enabled: true,
        endpoints: vec![endpoint("one"), endpoint("two")],
    };
    store
        .apply_declarations(
            std::slice::from_ref(&provider),
            std::slice::from_ref(&model),
            Origin::Config,
        )
        .await
        .unwrap();
    model.endpoints = vec![endpoint("three")];
    store
        .apply_declarations(&[], &[model.clone()], Origin::Admin)
        .await
        .unwrap();
    let rows = store.load_registry().await.unwrap();
    assert!(rows.version > v0);
    assert_eq!(rows.providers, vec![provider]);
    assert_eq!(rows.models.len(), 1);
    assert_eq!(rows.models[0].0, model);
    store.set_model_enabled("a/b", false).await.unwrap();
    assert!(!store.load_registry().await.unwrap().models[0].0.enabled);
    assert!(store.set_provider_enabled("nope", false).await.is_err());

    // Keys: only hashes, revocation.
    store
        .create_key("key_a", "alpha", "hash-a", "sy-aaaa")
        .await
        .unwrap();
    assert_eq!(store.load_registry().await.unwrap().keys.len(), 1);
    let revoked = store.revoke_key("key_a").await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.load_registry().await.unwrap().keys.is_empty());
    assert!(store.revoke_key("key_zz").await.is_err());

    // Records: a batch larger than one statement, attempts kept in order, written once.
    let batch: Vec<RequestRecord> = (0..250).map(record).collect();
    store.insert_records(&batch).await.unwrap();
    store.insert_records(&batch[..3]).await.unwrap(); // a retried batch does not duplicate
    let newest = store.list_requests(1000, None).await.unwrap();
    assert_eq!(newest.len(), 250);
    assert_eq!(newest[0].id, "gen-00249");
    assert!(newest
        .iter()
        .all(|r| r.attempts.len() == 2 && r.attempts[0].status == Some(503)));
    assert_eq!(
        store
            .list_requests(1000, Some("key_a"))
            .await
            .unwrap()
            .len(),
        125
    );
    let seven = store.get_request("gen-00007").await.unwrap().unwrap();
    assert_eq!(seven.error.as_deref(), Some("quote ' and \" and ünïcode"));
    assert_eq!(seven.attempts[1].provider, "p1");
    assert!(store.get_request("gen-missing").await.unwrap().is_none());
    store.close().await;
}
