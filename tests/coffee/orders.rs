//! The orders and sales queries on SQLite, and on PostgreSQL when `DATABASE_URL` is set (in a schema of its
//! own, dropped at the end), as the fleet store tests do.

use std::sync::Arc;
use std::time::Duration;

use crate::coffee::orders::{
    OrderError, OrderFilter, OrderState, Orders, ProductReport, QrRequest, SimulatedProvider,
};

struct Backend {
    name: &'static str,
    fleet: fleet::Fleet,
    orders: Orders,
}

async fn backend(name: &'static str, store: fleet::Store) -> Backend {
    store
        .migrate_with(Orders::migrator(store.backend()))
        .await
        .unwrap();
    let fleet = fleet::Fleet::with_store(store, fleet::FleetConfig::default())
        .await
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let provider = Arc::new(SimulatedProvider::new(
        "https://pay.test/qr".into(),
        None,
        tx,
    ));
    let orders = Orders::new(fleet.clone(), provider, Duration::from_secs(300));
    Backend {
        name,
        fleet,
        orders,
    }
}

fn qr(device: &str, order_no: &str, amount: u32) -> QrRequest {
    QrRequest {
        device_id: device.into(),
        order_no: order_no.into(),
        product_id: 1,
        amount_fen: amount,
        qr_type: "all".into(),
    }
}

fn done(device: &str, order_no: &str, ok: bool) -> ProductReport {
    ProductReport {
        device_id: device.into(),
        order_no: order_no.into(),
        product_name: "coffee".into(),
        pay_type: "qr_pay".into(),
        ok,
    }
}

async fn exercise(b: &Backend) {
    let name = b.name;
    for id in ["7", "8", "9"] {
        b.fleet.add_device(id, id, "12345678").await.unwrap();
    }
    // 7: two dispensed (300 + 450), one paid and failed (refund due); 8: one dispensed; 9: one waiting.
    for (device, order, amount) in [
        ("7", "7-1", 300),
        ("7", "7-2", 450),
        ("7", "7-3", 500),
        ("8", "8-1", 350),
        ("9", "9-1", 400),
    ] {
        let o = b.orders.qrcode(&qr(device, order, amount)).await.unwrap();
        assert_eq!(o.state, OrderState::AwaitingPayment, "{name}");
        assert!(o.pay_url.as_deref().unwrap().contains(order), "{name}");
    }
    // A repeated qrcode is the same order and the same payment.
    let again = b.orders.qrcode(&qr("7", "7-1", 300)).await.unwrap();
    assert_eq!(
        again.id,
        b.orders.get("7-1").await.unwrap().unwrap().id,
        "{name}"
    );
    // Another machine cannot take an order number.
    assert!(
        matches!(
            b.orders.qrcode(&qr("8", "7-1", 300)).await,
            Err(OrderError::OtherMachine { .. })
        ),
        "{name}"
    );
    for order in ["7-1", "7-2", "7-3", "8-1"] {
        assert_eq!(
            b.orders.paid(order).await.unwrap().state,
            OrderState::Paid,
            "{name}"
        );
    }
    // A provider retry changes nothing and queues no second pay_done.
    b.orders.paid("7-1").await.unwrap();
    let queued = b
        .fleet
        .store()
        .commands(&fleet::store::CommandFilter {
            device_id: Some("7".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(queued.len(), 3, "{name}: one pay_done per paid order");
    for (device, order, ok) in [
        ("7", "7-1", true),
        ("7", "7-2", true),
        ("7", "7-3", false),
        ("8", "8-1", true),
    ] {
        b.orders
            .product_done(&done(device, order, ok))
            .await
            .unwrap();
    }
    let failed = b.orders.get("7-3").await.unwrap().unwrap();
    assert!(
        failed.refund_due && failed.state == OrderState::Failed,
        "{name}"
    );
    assert!(
        matches!(
            b.orders.product_done(&done("7", "7-1", true)).await,
            Err(OrderError::WrongState { .. })
        ),
        "{name}"
    );

    // Lists: filters and cursor.
    let all = b
        .orders
        .list(&OrderFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5, "{name}");
    assert!(
        all.windows(2).all(|w| w[0].id > w[1].id),
        "{name}: newest first"
    );
    let page = b
        .orders
        .list(&OrderFilter {
            device_id: Some("7".into()),
            state: Some(OrderState::Dispensed),
            before: None,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(page[0].order_no, "7-2", "{name}");
    let rest = b
        .orders
        .list(&OrderFilter {
            device_id: Some("7".into()),
            state: Some(OrderState::Dispensed),
            before: Some(page[0].id),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "{name}");
    assert_eq!(rest[0].order_no, "7-1", "{name}");

    // Sales per machine and day, with sums as whole numbers on both databases.
    let sales = b.orders.sales(None, None, None, 100).await.unwrap();
    let row = |d: &str| sales.iter().find(|s| s.device_id == d).unwrap().clone();
    assert_eq!(sales.len(), 3, "{name}: {sales:?}");
    assert_eq!(
        (
            row("7").dispensed,
            row("7").revenue_fen,
            row("7").refunds_due
        ),
        (2, 750, 1),
        "{name}"
    );
    assert_eq!(
        (
            row("8").dispensed,
            row("8").revenue_fen,
            row("8").refunds_due
        ),
        (1, 350, 0),
        "{name}"
    );
    assert_eq!((row("9").dispensed, row("9").revenue_fen), (0, 0), "{name}");
    let today = sales[0].day.clone();
    let only = b
        .orders
        .sales(Some("8"), Some(&today), None, 100)
        .await
        .unwrap();
    assert_eq!(only.len(), 1, "{name}");
    assert!(
        b.orders
            .sales(None, Some("2999-01-01"), None, 100)
            .await
            .unwrap()
            .is_empty(),
        "{name}"
    );
    // Paging by (day, device).
    let first = b.orders.sales(None, None, None, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|s| s.device_id.as_str())
            .collect::<Vec<_>>(),
        ["7", "8"],
        "{name}"
    );
    let last = &first[1];
    let next = b
        .orders
        .sales(None, None, Some((&last.day, &last.device_id)), 2)
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|s| s.device_id.as_str())
            .collect::<Vec<_>>(),
        ["9"],
        "{name}"
    );
}

/// A crash between marking an order paid and queueing its `pay_done` (the order row says paid, no command):
/// the start-up repair queues the push once, a retried confirmation or a second repair adds nothing, and a
/// payment older than the push's TTL is left alone (its push would have expired).
async fn repair(b: &Backend) {
    let name = b.name;
    b.fleet.add_device("5", "5", "12345678").await.unwrap();
    for order in ["5-1", "5-2"] {
        b.orders.qrcode(&qr("5", order, 300)).await.unwrap();
    }
    let now = fleet::now_ms();
    for (order, paid_at) in [("5-1", now - 1_000), ("5-2", now - 301_000)] {
        sqlx::query("UPDATE coffee_orders SET state = 'paid', paid_at = $2 WHERE order_no = $1")
            .bind(order)
            .bind(paid_at)
            .execute(b.fleet.store().writer())
            .await
            .unwrap();
    }
    let pushes = || async {
        b.fleet
            .store()
            .commands(&fleet::store::CommandFilter {
                device_id: Some("5".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
    };
    assert!(pushes().await.is_empty(), "{name}");
    assert!(b.orders.repair_pay_done().await.unwrap() >= 1, "{name}");
    b.orders.repair_pay_done().await.unwrap();
    b.orders.paid("5-1").await.unwrap();
    b.orders.paid("5-2").await.unwrap();
    let queued = pushes().await;
    assert_eq!(queued.len(), 1, "{name}: {queued:?}");
    assert_eq!(queued[0].kind, "pay_done", "{name}");
    assert_eq!(queued[0].payload["order_no"], "5-1", "{name}");
    assert_eq!(
        queued[0].idempotency_key.as_deref(),
        Some("pay_done:5-1"),
        "{name}"
    );
    let left = queued[0].expires_at.unwrap() - fleet::now_ms();
    assert!(
        (0..=300_000).contains(&left),
        "{name}: the push keeps what is left of its TTL, {left} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_sales_queries_run_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = backend(
        "sqlite",
        fleet::Store::open_sqlite(dir.path()).await.unwrap(),
    )
    .await;
    exercise(&sqlite).await;
    repair(&sqlite).await;
    sqlite.fleet.shutdown().await;
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: the orders queries run on SQLite only");
        return;
    };
    let schema = format!("coffee_orders_test_{}", std::process::id());
    let pg = backend(
        "postgres",
        fleet::Store::connect(&url, Some(&schema)).await.unwrap(),
    )
    .await;
    exercise(&pg).await;
    repair(&pg).await;
    pg.fleet.shutdown().await;
    let admin = fleet::Store::connect(&url, None).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
}
