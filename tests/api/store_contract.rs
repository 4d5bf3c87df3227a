//! One story over `Store`, run on SQLite and (in the PostgreSQL run) on PostgreSQL.

use std::sync::Arc;

use switchyard::store::{
    AttemptRecord, LeaseAsk, LimitWrite, NewKeyRow, Origin, RequestRecord, Store,
};
use switchyard::types::keys::{BudgetReset, KeyPolicy};
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
        cache_read_price: Some(0.05),
        cache_write_price: None,
        request_price: 0.001,
        supported_parameters: Some(vec!["tools".into()]),
        enabled: true,
        quantization: Some("fp8".into()),
        context_length: Some(800),
        max_completion_tokens: Some(200),
    };
    let mut model = ModelDecl {
        slug: "a/b".into(),
        name: Some("A B".into()),
        aliases: vec!["ab".into()],
        context_length: Some(1000),
        supported_parameters: vec!["temperature".into()],
        fallbacks: vec![],
        enabled: true,
        default_output_tokens: Some(512),
        kind: switchyard::types::registry::ModelKind::Embedding,
        description: Some("A model for the contract.".into()),
        input_modalities: vec!["text".into(), "image".into()],
        output_modalities: vec!["embeddings".into()],
        tokenizer: Some("GPT".into()),
        instruct_type: None,
        max_completion_tokens: Some(300),
        hugging_face_id: Some("a/b-hf".into()),
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

    // Keys: only hashes, a policy, idempotent creation, updates, revocation.
    let policy = KeyPolicy {
        budget_nanos: Some(5_000_000_000),
        budget_reset: BudgetReset::Monthly,
        rpm: Some(60),
        allowed_models: Some(vec!["a/*".into()]),
        metadata: Some(serde_json::from_str(r#"{"team":"x"}"#).unwrap()),
        ..KeyPolicy::default()
    };
    let new = |id: &'static str, hash: &'static str, token: Option<&'static str>| NewKeyRow {
        id,
        name: "alpha",
        key_hash: hash,
        key_prefix: "sy-aaaa",
        policy: Box::leak(Box::new(policy.clone())),
        idempotency_key: token,
    };
    let (a, created) = store
        .create_key(&new("key_a", "hash-a", Some("t1")))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(a.policy, policy);
    // A retry with the same idempotency key returns the first key and makes no second one.
    let (again, created) = store
        .create_key(&new("key_a2", "hash-a2", Some("t1")))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, "key_a");
    assert_eq!(store.list_keys().await.unwrap().len(), 1);
    assert_eq!(
        store.find_live_key("hash-a").await.unwrap().unwrap().id,
        "key_a"
    );
    let mut changed = policy.clone();
    changed.rpm = None;
    changed.disabled = true;
    let row = store
        .update_key("key_a", "alpha-2", &changed)
        .await
        .unwrap();
    assert_eq!(
        (row.name.as_str(), row.policy.rpm, row.policy.disabled),
        ("alpha-2", None, true)
    );
    assert!(store.update_key("key_zz", "x", &changed).await.is_err());
    let keys = store.load_registry().await.unwrap().keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].policy, changed);
    store
        .create_key(&new("key_b", "hash-b", None))
        .await
        .unwrap();
    let revoked = store.revoke_key("key_b").await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(store.load_registry().await.unwrap().keys.len(), 1);
    assert!(store.find_live_key("hash-b").await.unwrap().is_none());
    assert!(store.revoke_key("key_zz").await.is_err());

    // Records: a batch larger than one statement, attempts kept in order, written once.
    let batch: Vec<Arc<RequestRecord>> = (0..250).map(record).map(Arc::new).collect();
    let holder = "replica-1";
    let lease = |need| LeaseAsk {
        key_id: "key_a",
        holder,
        period_start: 0,
        budget: 100_000,
        need,
        now: 10_000,
        ttl_ms: 60_000,
    };
    // What is left: the budget less the written spend, less the unspent part of live leases.
    let left_now = |spent: i64| 100_000 - spent - (50_000 - spent);
    let g = store.acquire_lease(lease(10)).await.unwrap();
    assert!(g.fresh);
    assert_eq!((g.granted, g.spent, g.unleased), (50_000, 0, 50_000));
    assert_eq!(
        store.insert_records(&batch, holder).await.unwrap().len(),
        250
    );
    // A retried batch does not duplicate rows, and its money is not counted twice.
    assert!(store
        .insert_records(&batch[..3], holder)
        .await
        .unwrap()
        .is_empty());
    let spend = store.spend_totals(Some("key_a"), 1_000).await.unwrap();
    assert_eq!((spend.total, spend.requests), (125 * 123, 125));
    assert_eq!(store.spend_since("key_a", 0).await.unwrap(), 125 * 123);
    // What is left: the budget less the spend, less the unspent part of live leases.
    let g = store.acquire_lease(lease(10)).await.unwrap();
    assert!(!g.fresh);
    assert_eq!(g.added, left_now(125 * 123) / 2);
    assert_eq!(g.spent, 125 * 123);
    let left = left_now(125 * 123);
    assert_eq!(g.granted, 50_000 + left / 2);
    // Another replica gets half of what nobody holds; nothing when less than it needs is left.
    let other = LeaseAsk {
        holder: "replica-2",
        ..lease(1)
    };
    let g2 = store.acquire_lease(other).await.unwrap();
    assert_eq!(g2.granted, (left - left / 2) / 2);
    let huge = LeaseAsk {
        holder: "replica-2",
        ..lease(1_000_000)
    };
    assert_eq!(store.acquire_lease(huge).await.unwrap().granted, g2.granted);
    // Shrinking gives budget back; expired leases of others are dropped.
    let mine = 50_000 + left / 2;
    assert!(store
        .shrink_lease("key_a", holder, mine - 125 * 123, 70_000)
        .await
        .unwrap());
    let late = LeaseAsk {
        holder: "replica-2",
        now: 80_000,
        ..lease(1)
    };
    let g3 = store.acquire_lease(late).await.unwrap();
    assert!(g3.granted > g2.granted, "{g3:?}");
    store.release_leases(holder).await.unwrap();
    assert!(!store
        .shrink_lease("key_a", holder, 0, 90_000)
        .await
        .unwrap());

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
    // A record the database refuses is set aside with its cost still counted.
    let mut bad = record(900);
    bad.requested_model = Some("a\0b".into());
    let bad = Arc::new(bad);
    if let Err(e) = store
        .insert_records(std::slice::from_ref(&bad), holder)
        .await
    {
        assert!(e.is_refused_data(), "{e}");
        store
            .insert_dead_letter(&bad, &e.to_string(), holder)
            .await
            .unwrap();
        assert_eq!(store.dead_letter_count().await.unwrap(), 1);
        let spend = store.spend_totals(Some("key_a"), 1_000).await.unwrap();
        assert_eq!(spend.requests, 126);
    } else {
        // SQLite stores NUL bytes; PostgreSQL refuses them.
        assert_eq!(store.backend(), "sqlite");
    }

    // Shared limit cells and slots: read, decide, write, in one transaction per key.
    let seen = store
        .update_limits("key_l", "r1", |c| {
            let w = LimitWrite {
                rpm_tat: Some(c.now_us + 5),
                tpm_tat: None,
                slots_mine: Some(2),
            };
            (w, *c)
        })
        .await
        .unwrap();
    assert_eq!((seen.rpm_tat, seen.tpm_tat, seen.slots_mine), (0, 0, 0));
    assert!(seen.now_us > 1_600_000_000_000_000, "{seen:?}");
    let seen2 = store
        .update_limits("key_l", "r2", |c| {
            let w = LimitWrite {
                slots_mine: Some(1),
                ..LimitWrite::default()
            };
            (w, *c)
        })
        .await
        .unwrap();
    assert_eq!(seen2.rpm_tat, seen.now_us + 5);
    assert_eq!((seen2.slots_others, seen2.slots_mine), (2, 0));
    // Giving every slot back deletes the row; releasing a holder drops the rest.
    store
        .update_limits("key_l", "r1", |_| {
            let w = LimitWrite {
                slots_mine: Some(0),
                ..LimitWrite::default()
            };
            (w, ())
        })
        .await
        .unwrap();
    store.release_slots("r2").await.unwrap();
    let seen3 = store
        .update_limits("key_l", "r3", |c| (LimitWrite::default(), *c))
        .await
        .unwrap();
    assert_eq!((seen3.slots_others, seen3.slots_mine), (0, 0));
    store.close().await;
}
