//! The people and records queries on SQLite, and on PostgreSQL when `DATABASE_URL` is set (in a schema of
//! its own, dropped at the end).

use std::collections::BTreeMap;

use access_proto::{AccessInfo, InOutType, OpenDoorType};
use bytes::Bytes;

use crate::access::people::{Blob, People, PersonFields, Slot, Terminal, PUSH_KIND};
use crate::access::records::{RecordFilter, Records};

async fn exercise(name: &str, store: fleet::Store) {
    store
        .migrate_with(People::migrator(store.backend()))
        .await
        .unwrap();
    let fleet = fleet::Fleet::with_store(store.clone(), fleet::FleetConfig::default())
        .await
        .unwrap();
    let people = People::new(fleet.clone(), 1 << 20, 16 << 20);
    let (records, writer) = Records::start(store.clone());

    fleet.add_device("T1", "gate", "").await.unwrap();
    let t = Terminal {
        device_id: "T1".into(),
        community_code: Some("C1".into()),
        device_port: Some(1545),
        transport: "tcp".into(),
        updated_at: 1,
        ..Terminal::default()
    };
    assert_eq!(
        people.register_terminal(&t).await.unwrap(),
        (false, None),
        "{name}"
    );
    assert_eq!(
        people.register_terminal(&t).await.unwrap(),
        (true, Some("C1".into())),
        "{name}"
    );

    let face: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let mut blobs = BTreeMap::new();
    blobs.insert(
        Slot::Face,
        Blob {
            width: 520,
            height: 690,
            format: 2,
            data: Bytes::from(face.clone()),
        },
    );
    let fields = PersonFields {
        community_code: "C1".into(),
        person_name: Some("张飒".into()),
        role: Some(12),
        ..PersonFields::default()
    };
    let (p, queued) = people
        .create("P1".into(), fields.clone(), blobs)
        .await
        .unwrap();
    assert_eq!((p.version, queued), (1, 1), "{name}");
    let back = people.get("P1").await.unwrap().unwrap();
    assert_eq!(
        &back.blobs[&Slot::Face].data[..],
        &face[..],
        "{name}: the picture changed in the store"
    );
    assert_eq!(back.fields.person_name.as_deref(), Some("张飒"));
    let list = people.list(Some("C1"), None, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].blobs[0].length, 10_000, "{name}");
    // A second push while the first is queued is not queued twice.
    let (p2, queued) = people.replace("P1", fields, BTreeMap::new()).await.unwrap();
    assert_eq!((p2.version, queued), (2, 0), "{name}");
    let pushes = people.pushes("P1", 10).await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].state.as_deref(), Some("queued"));
    let first = fleet
        .store()
        .command(pushes[0].command_id)
        .await
        .unwrap()
        .unwrap();
    people
        .record_answer(&first, "P1", 2, -3, "database error")
        .await
        .unwrap();
    let pushes = people.pushes("P1", 10).await.unwrap();
    assert_eq!((pushes[0].code, pushes[0].version), (Some(-3), 2), "{name}");
    // An answer that comes before its push row (a delivery under way for the terminal claims a new
    // command at once) writes the row with its code.
    let spec = fleet::CommandSpec {
        kind: PUSH_KIND.into(),
        payload: serde_json::json!({ "cmd": PUSH_KIND, "person_id": "P1" }),
        idempotent: true,
        expects_ack: true,
    };
    let fleet::Enqueued::New(early) = fleet
        .store()
        .enqueue("T1", &spec, None, None)
        .await
        .unwrap()
    else {
        panic!("{name}: the command was not new");
    };
    people
        .record_answer(&early, "P1", 2, 7, "seven")
        .await
        .unwrap();
    let pushes = people.pushes("P1", 10).await.unwrap();
    let row = pushes
        .iter()
        .find(|p| p.command_id == early.id)
        .unwrap_or_else(|| panic!("{name}: the early answer left no push row: {pushes:?}"));
    assert_eq!(
        (
            row.code,
            row.message.as_deref(),
            row.version,
            row.device_id.as_str()
        ),
        (Some(7), Some("seven"), 2, "T1"),
        "{name}"
    );
    assert_eq!(row.queued_at, early.created_at, "{name}");

    // A person committed without its pushes (the process stopped in between) is queued for a terminal of
    // its community when it identifies again; people whose version was queued already are not.
    assert_eq!(
        people.push_missing_to("C1", "T1").await.unwrap(),
        0,
        "{name}"
    );
    sqlx::query(
        "INSERT INTO access_persons (person_id, community_code, version, created_at, updated_at) \
         VALUES ('P3', 'C1', 1, 1, 1)",
    )
    .execute(store.writer())
    .await
    .unwrap();
    assert_eq!(
        people.push_missing_to("C1", "T1").await.unwrap(),
        1,
        "{name}"
    );
    assert_eq!(
        people.push_missing_to("C1", "T1").await.unwrap(),
        0,
        "{name}: queued twice"
    );
    assert_eq!(people.pushes("P3", 10).await.unwrap().len(), 1, "{name}");
    assert_eq!(
        people.push_missing_to("C2", "T1").await.unwrap(),
        0,
        "{name}"
    );
    // A terminal registered again without a remote address keeps the one it had.
    people
        .register_terminal(&Terminal {
            remote_addr: Some("10.0.0.9:4000".into()),
            ..t.clone()
        })
        .await
        .unwrap();
    people.register_terminal(&t).await.unwrap();
    let back = people.terminals(Some("C1"), None, 10).await.unwrap();
    assert_eq!(
        back[0].remote_addr.as_deref(),
        Some("10.0.0.9:4000"),
        "{name}"
    );

    let mut info = AccessInfo::at("20240101080000".parse().unwrap());
    info.person_id = Some("P1".into());
    info.in_out_type = Some(InOutType(1));
    info.open_door_type = Some(OpenDoorType(2));
    assert_eq!(records.store("T1", info.clone()).await, Ok(true), "{name}");
    assert_eq!(
        records.store("T1", info.clone()).await,
        Ok(false),
        "{name}: a repeat was stored again"
    );
    info.time = "20240101090000".parse().unwrap();
    assert_eq!(records.store("T1", info).await, Ok(true));
    let f = |from: Option<&str>, dir: Option<i64>| RecordFilter {
        from: from.map(str::to_owned),
        in_out_type: dir,
        limit: 100,
        ..RecordFilter::default()
    };
    assert_eq!(
        records.query(&f(None, None)).await.unwrap().len(),
        2,
        "{name}"
    );
    assert_eq!(
        records
            .query(&f(Some("20240101083000"), None))
            .await
            .unwrap()
            .len(),
        1,
        "{name}"
    );
    assert_eq!(
        records.query(&f(None, Some(2))).await.unwrap().len(),
        0,
        "{name}"
    );
    assert_eq!(
        people.delete("P1").await.unwrap(),
        2,
        "{name}: the queued pushes were not cancelled"
    );
    records.close().await;
    writer.await.unwrap();
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_and_records_queries_run_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    exercise(
        "sqlite",
        fleet::Store::open_sqlite(dir.path()).await.unwrap(),
    )
    .await;
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: the access queries run on SQLite only");
        return;
    };
    let schema = format!("access_test_{}", std::process::id());
    exercise(
        "postgres",
        fleet::Store::connect(&url, Some(&schema)).await.unwrap(),
    )
    .await;
    let admin = fleet::Store::connect(&url, None).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
}
