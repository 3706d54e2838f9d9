//! Store and queue behaviour on SQLite, and on PostgreSQL when `DATABASE_URL` is set (each test in a schema
//! of its own, dropped at the end).

use std::time::Duration;

use fleet::store::{CommandFilter, EventFilter};
use fleet::{CommandSpec, CommandState, Enqueued, Store, StoreError};

/// A store per backend: SQLite in a temporary directory, and PostgreSQL when `DATABASE_URL` is set.
struct Backends {
    stores: Vec<(&'static str, Store)>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Backends {
    async fn new(test: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut stores = vec![("sqlite", Store::open_sqlite(dir.path()).await.unwrap())];
        let mut pg = None;
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let schema = format!("fleet_test_{test}_{}", std::process::id());
            stores.push((
                "postgres",
                Store::connect(&url, Some(&schema)).await.unwrap(),
            ));
            pg = Some((url, schema));
        } else {
            eprintln!("DATABASE_URL not set: {test} runs on SQLite only");
        }
        Self {
            stores,
            _dir: dir,
            pg,
        }
    }

    async fn cleanup(self) {
        for (_, s) in &self.stores {
            s.close().await;
        }
        if let Some((url, schema)) = self.pg {
            let s = Store::connect(&url, None).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(s.pool())
                .await
                .unwrap();
            s.close().await;
        }
    }
}

fn spec(kind: &str, idempotent: bool) -> CommandSpec {
    CommandSpec {
        kind: kind.into(),
        payload: serde_json::json!({ "cmd": kind }),
        idempotent,
        expects_ack: false,
    }
}

#[tokio::test]
async fn devices_register_list_and_remove() {
    let b = Backends::new("devices").await;
    for (name, s) in &b.stores {
        s.add_device("1001", "lobby", "12345678").await.unwrap();
        s.add_device("1002", "hall", "87654321").await.unwrap();
        assert!(
            matches!(
                s.add_device("1001", "x", "y").await,
                Err(StoreError::DeviceExists(_))
            ),
            "{name}"
        );
        let all = s.devices(None, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["1001", "1002"],
            "{name}"
        );
        let page = s.devices(Some("1001"), 10).await.unwrap();
        assert_eq!(page.len(), 1, "{name}");
        let info = serde_json::json!({ "driver": "v2" });
        s.device_logged_in("1001", Some("1.2"), Some(&info), 5)
            .await
            .unwrap();
        s.touch_devices(&[("1001".into(), 9)]).await.unwrap();
        let d = s.device("1001").await.unwrap().unwrap();
        assert_eq!(
            (d.version.as_deref(), d.last_seen, d.info),
            (Some("1.2"), Some(9), Some(info)),
            "{name}"
        );
        // Many at once (more than one statement's worth); a time never moves back.
        let many: Vec<(String, i64)> = (0..300).map(|i| (format!("m{i}"), 100 + i)).collect();
        for (id, _) in &many {
            s.add_device(id, "", "12345678").await.unwrap();
        }
        s.touch_devices(&many).await.unwrap();
        s.touch_devices(&[("m7".into(), 3), ("1001".into(), 8)])
            .await
            .unwrap();
        for (id, at) in [("m0", 100), ("m7", 107), ("m299", 399), ("1001", 9)] {
            let seen = s.device(id).await.unwrap().unwrap().last_seen;
            assert_eq!(seen, Some(at), "{name}: {id}");
        }
        let secrets = s.device_secrets().await.unwrap();
        assert!(
            secrets.contains(&("1002".into(), "87654321".into())),
            "{name}"
        );
        assert!(s.remove_device("1002").await.unwrap(), "{name}");
        assert!(!s.remove_device("1002").await.unwrap(), "{name}");
        assert!(s.device("1002").await.unwrap().is_none(), "{name}");
    }
    b.cleanup().await;
}

#[tokio::test]
async fn events_page_by_cursor_filter_and_prune() {
    let b = Backends::new("events").await;
    for (name, s) in &b.stores {
        for i in 0..5 {
            let device = if i % 2 == 0 { "a" } else { "b" };
            s.add_event(Some(device), "status", &serde_json::json!({ "i": i }))
                .await
                .unwrap();
        }
        s.add_event(None, "server", &serde_json::json!({}))
            .await
            .unwrap();
        let first = s
            .events(&EventFilter {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(first.len(), 2, "{name}");
        assert_eq!(first[0].kind, "server", "{name}");
        let next = s
            .events(&EventFilter {
                limit: 10,
                before: Some(first[1].id),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(next.len(), 4, "{name}");
        let only_a = s
            .events(&EventFilter {
                limit: 10,
                device_id: Some("a".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            only_a
                .iter()
                .map(|e| e.data["i"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            [4, 2, 0],
            "{name}"
        );
        // Keep the newest 3.
        assert_eq!(s.prune_events(0, 3).await.unwrap(), 3, "{name}");
        let left = s
            .events(&EventFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(left.len(), 3, "{name}");
        assert_eq!(s.prune_events(i64::MAX, 1000).await.unwrap(), 3, "{name}");
    }
    b.cleanup().await;
}

#[tokio::test]
async fn queue_is_fifo_and_records_each_transition() {
    let b = Backends::new("fifo").await;
    for (name, s) in &b.stores {
        s.add_device("7", "m", "12345678").await.unwrap();
        let Enqueued::New(a) = s
            .enqueue("7", &spec("priceset", true), None, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        let Enqueued::New(c) = s
            .enqueue("7", &spec("reboot", false), None, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.state, CommandState::Queued, "{name}");
        assert!(matches!(
            s.enqueue("nope", &spec("reboot", false), None, None).await,
            Err(StoreError::NoDevice(_))
        ));
        let first = s.claim_next("7").await.unwrap().unwrap();
        assert_eq!(
            (first.id, first.state, first.attempts),
            (a.id, CommandState::Sending, 1),
            "{name}"
        );
        assert_eq!(s.in_flight("7").await.unwrap(), 1, "{name}");
        assert!(s.mark_sent(a.id).await.unwrap(), "{name}");
        let sent = s.command(a.id).await.unwrap().unwrap();
        assert_eq!(sent.state, CommandState::Sent, "{name}");
        assert!(
            sent.sent_at.is_some() && sent.finished_at.is_some(),
            "{name}"
        );
        // An offline device: the claim goes back to its place.
        let second = s.claim_next("7").await.unwrap().unwrap();
        assert_eq!(second.id, c.id, "{name}");
        assert!(s.unclaim(c.id).await.unwrap(), "{name}");
        assert_eq!(s.claim_next("7").await.unwrap().unwrap().id, c.id, "{name}");
        assert!(s
            .finish(
                c.id,
                CommandState::Sending,
                CommandState::Failed,
                Some("refused")
            )
            .await
            .unwrap());
        assert!(s.claim_next("7").await.unwrap().is_none(), "{name}");
        let listed = s
            .commands(&CommandFilter {
                device_id: Some("7".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|c| c.state).collect::<Vec<_>>(),
            [CommandState::Failed, CommandState::Sent]
        );
        let counts = s.command_counts().await.unwrap();
        assert!(
            counts.contains(&("sent".into(), 1)) && counts.contains(&("failed".into(), 1)),
            "{name}"
        );
    }
    b.cleanup().await;
}

#[tokio::test]
async fn enqueue_many_queues_one_command_per_registered_device_in_one_step() {
    let b = Backends::new("many").await;
    for (name, s) in &b.stores {
        for id in ["a", "b", "c"] {
            s.add_device(id, id, "12345678").await.unwrap();
        }
        s.enqueue("b", &spec("priceset", true), None, None)
            .await
            .unwrap();
        let queued = s
            .enqueue_many(
                &["c", "gone", "a", "b"],
                &spec("download_person", true),
                Some(Duration::from_secs(60)),
            )
            .await
            .unwrap();
        // The unregistered device is skipped; the others keep the order asked.
        assert_eq!(
            queued
                .iter()
                .map(|c| c.device_id.as_str())
                .collect::<Vec<_>>(),
            ["c", "a", "b"],
            "{name}"
        );
        for c in &queued {
            assert_eq!(
                (c.kind.as_str(), c.state, c.idempotent, c.attempts),
                ("download_person", CommandState::Queued, true, 0),
                "{name}"
            );
            assert!(c.expires_at.unwrap() > c.created_at, "{name}");
            assert_eq!(s.command(c.id).await.unwrap().as_ref(), Some(c), "{name}");
        }
        // Each device's queue stays FIFO: b's earlier command comes first.
        assert_eq!(
            s.claim_next("b").await.unwrap().unwrap().kind,
            "priceset",
            "{name}"
        );
        assert!(s
            .enqueue_many(&[], &spec("x", true), None)
            .await
            .unwrap()
            .is_empty());
    }
    b.cleanup().await;
}

#[tokio::test]
async fn idempotency_keys_queue_once_and_refuse_a_different_body() {
    let b = Backends::new("idem").await;
    for (name, s) in &b.stores {
        s.add_device("7", "m", "12345678").await.unwrap();
        let Enqueued::New(first) = s
            .enqueue("7", &spec("reboot", false), None, Some("k1"))
            .await
            .unwrap()
        else {
            panic!("{name}")
        };
        let Enqueued::Existing(again) = s
            .enqueue("7", &spec("reboot", false), None, Some("k1"))
            .await
            .unwrap()
        else {
            panic!("{name}")
        };
        assert_eq!(first.id, again.id, "{name}");
        assert!(matches!(
            s.enqueue("7", &spec("opendoor", false), None, Some("k1"))
                .await,
            Err(StoreError::KeyReused(_))
        ));
        let all = s
            .commands(&CommandFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 1, "{name}");
    }
    b.cleanup().await;
}

#[tokio::test]
async fn restart_requeues_idempotent_and_marks_others_unknown() {
    let b = Backends::new("recover").await;
    for (name, s) in &b.stores {
        s.add_device("7", "m", "12345678").await.unwrap();
        let Enqueued::New(price) = s
            .enqueue("7", &spec("priceset", true), None, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        let Enqueued::New(reboot) = s
            .enqueue("7", &spec("reboot", false), None, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        let mut acked = spec("unlock", false);
        acked.expects_ack = true;
        let Enqueued::New(unlock) = s.enqueue("7", &acked, None, None).await.unwrap() else {
            panic!()
        };
        // Crash with both claimed and one acknowledged protocol command sent but not acked.
        assert_eq!(s.claim_next("7").await.unwrap().unwrap().id, price.id);
        assert_eq!(s.claim_next("7").await.unwrap().unwrap().id, reboot.id);
        assert_eq!(s.claim_next("7").await.unwrap().unwrap().id, unlock.id);
        assert!(s.mark_sent(unlock.id).await.unwrap());
        let r = s.recover().await.unwrap();
        assert_eq!((r.requeued, r.unknown), (1, 2), "{name}");
        assert_eq!(
            s.command(price.id).await.unwrap().unwrap().state,
            CommandState::Queued
        );
        let reboot = s.command(reboot.id).await.unwrap().unwrap();
        assert_eq!(reboot.state, CommandState::Unknown, "{name}");
        assert!(reboot.error.unwrap().contains("may or may not"), "{name}");
        assert_eq!(
            s.command(unlock.id).await.unwrap().unwrap().state,
            CommandState::Unknown
        );
        // The idempotent one is delivered again, the others never.
        let again = s.claim_next("7").await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (price.id, 2), "{name}");
        assert!(s.claim_next("7").await.unwrap().is_none(), "{name}");
        // A second recovery changes nothing once things are settled.
        s.mark_sent(price.id).await.unwrap();
        assert_eq!(
            s.recover().await.unwrap(),
            fleet::store::Recovery::default(),
            "{name}"
        );
    }
    b.cleanup().await;
}

#[tokio::test]
async fn ttl_cancel_ack_and_timeout() {
    let b = Backends::new("ttl").await;
    for (name, s) in &b.stores {
        s.add_device("7", "m", "12345678").await.unwrap();
        let Enqueued::New(short) = s
            .enqueue(
                "7",
                &spec("priceset", true),
                Some(Duration::from_millis(1)),
                None,
            )
            .await
            .unwrap()
        else {
            panic!()
        };
        let Enqueued::New(keep) = s
            .enqueue("7", &spec("rinsing", false), None, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(s.expire_queued().await.unwrap(), 1, "{name}");
        assert_eq!(
            s.command(short.id).await.unwrap().unwrap().state,
            CommandState::Expired
        );
        let c = s.cancel(keep.id).await.unwrap().unwrap();
        assert_eq!(c.state, CommandState::Cancelled, "{name}");
        // Cancelling a final command changes nothing.
        assert_eq!(
            s.cancel(short.id).await.unwrap().unwrap().state,
            CommandState::Expired
        );

        let mut acked = spec("unlock", false);
        acked.expects_ack = true;
        let Enqueued::New(a) = s.enqueue("7", &acked, None, None).await.unwrap() else {
            panic!()
        };
        let Enqueued::New(t) = s.enqueue("7", &acked, None, None).await.unwrap() else {
            panic!()
        };
        s.claim_next("7").await.unwrap();
        s.mark_sent(a.id).await.unwrap();
        assert_eq!(s.in_flight("7").await.unwrap(), 1, "{name}");
        assert!(s.acknowledge(a.id, true, None).await.unwrap());
        assert_eq!(
            s.command(a.id).await.unwrap().unwrap().state,
            CommandState::Acked
        );
        s.claim_next("7").await.unwrap();
        s.mark_sent(t.id).await.unwrap();
        assert_eq!(s.time_out_unacked(i64::MAX).await.unwrap(), 1, "{name}");
        assert_eq!(
            s.command(t.id).await.unwrap().unwrap().state,
            CommandState::TimedOut
        );
    }
    b.cleanup().await;
}

#[tokio::test]
async fn settings_keep_the_first_value() {
    let b = Backends::new("settings").await;
    for (name, s) in &b.stores {
        assert_eq!(s.setting("t").await.unwrap(), None, "{name}");
        assert_eq!(s.setting_or_insert("t", "a").await.unwrap(), "a");
        assert_eq!(s.setting_or_insert("t", "b").await.unwrap(), "a");
    }
    b.cleanup().await;
}

#[tokio::test]
async fn retention_deletes_finished_commands_only() {
    let b = Backends::new("cmdret").await;
    for (name, s) in &b.stores {
        s.add_device("7", "m", "12345678").await.unwrap();
        let enqueue = |spec: CommandSpec| async move {
            match s.enqueue("7", &spec, None, None).await.unwrap() {
                Enqueued::New(c) => c.id,
                other => panic!("{other:?}"),
            }
        };
        let mut acked = spec("unlock", false);
        acked.expects_ack = true;
        // Finished: sent where no acknowledgement comes, failed, cancelled.
        let sent = enqueue(spec("reboot", false)).await;
        s.claim_next("7").await.unwrap();
        assert!(s.mark_sent(sent).await.unwrap());
        let failed = enqueue(spec("reboot", false)).await;
        s.claim_next("7").await.unwrap();
        assert!(s
            .finish(
                failed,
                CommandState::Sending,
                CommandState::Failed,
                Some("refused")
            )
            .await
            .unwrap());
        let cancelled = enqueue(spec("reboot", false)).await;
        s.cancel(cancelled).await.unwrap();
        // Live: sent and awaiting its acknowledgement, and queued.
        let waiting = enqueue(acked).await;
        s.claim_next("7").await.unwrap();
        assert!(s.mark_sent(waiting).await.unwrap());
        let queued = enqueue(spec("rinsing", false)).await;

        let state = |id| async move { s.command(id).await.unwrap().map(|c| c.state) };
        // Nothing finished before 0, and fewer than 1,000 are kept: nothing goes.
        assert_eq!(s.prune_commands(0, 1_000).await.unwrap(), 0, "{name}");
        // Keep the newest finished one.
        assert_eq!(s.prune_commands(0, 1).await.unwrap(), 2, "{name}");
        assert_eq!(
            (state(sent).await, state(failed).await),
            (None, None),
            "{name}"
        );
        assert_eq!(
            state(cancelled).await,
            Some(CommandState::Cancelled),
            "{name}"
        );
        // By age: every finished one goes; the live ones never do.
        assert_eq!(
            s.prune_commands(i64::MAX, 1_000).await.unwrap(),
            1,
            "{name}"
        );
        assert_eq!(state(cancelled).await, None, "{name}");
        assert_eq!(state(waiting).await, Some(CommandState::Sent), "{name}");
        assert_eq!(state(queued).await, Some(CommandState::Queued), "{name}");
    }
    b.cleanup().await;
}

/// Several processes opening one new SQLite store at the same moment (a vehicle server and its instances
/// started together) all get a migrated store: SQLite migrations take no lock, so the ones that lose the race
/// run again and find the migrations applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_sqlite_store_opened_by_several_at_once_is_migrated_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let path = dir.path().to_path_buf();
                tokio::spawn(async move { Store::open_sqlite(&path).await })
            })
            .collect();
        let mut stores = Vec::new();
        for open in opens {
            stores.push(
                open.await
                    .unwrap()
                    .expect("every opener gets a migrated store"),
            );
        }
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(stores[0].pool())
            .await
            .unwrap();
        let versions: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT version) FROM _sqlx_migrations")
                .fetch_one(stores[0].pool())
                .await
                .unwrap();
        assert!(
            applied > 0 && applied == versions,
            "{applied} rows, {versions} versions"
        );
        stores[0].add_device("1", "one", "12345678").await.unwrap();
        for s in stores {
            s.close().await;
        }
    }
}
