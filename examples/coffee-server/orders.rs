//! Orders and sales: the coffee payment flow, free of any protocol type.
//!
//! `qrcode` creates an order (idempotent by `order_no`) in `awaiting_payment` and answers with the payment
//! provider's URL. The provider confirms (after a delay in the simulated one, or `POST
//! /api/orders/{order_no}/paid`): the order is `paid` and a `pay_done` is queued for the machine. `productdone`
//! closes it: `dispensed`, or `failed` with `refund_due` when it was paid.

use std::sync::Arc;
use std::time::Duration;

use fleet::{BoxFuture, CommandSpec, Fleet, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// QR code handed out, no payment yet.
    AwaitingPayment,
    /// Paid; `pay_done` queued for the machine.
    Paid,
    /// The machine made the product.
    Dispensed,
    /// The machine reported a failure (refund due when it was paid).
    Failed,
}

impl OrderState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Dispensed => "dispensed",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::AwaitingPayment,
            Self::Paid,
            Self::Dispensed,
            Self::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What the machine asked for in its `qrcode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrRequest {
    /// The machine (device id).
    pub device_id: String,
    /// The machine's order number.
    pub order_no: String,
    /// Product.
    pub product_id: u32,
    /// Price in fen.
    pub amount_fen: u32,
    /// Wanted QR type (`all`, `wx_pub`, `alipay`, ...).
    pub qr_type: String,
}

/// What the machine reported in its `productdone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductReport {
    /// The machine.
    pub device_id: String,
    /// The order.
    pub order_no: String,
    /// Product name.
    pub product_name: String,
    /// Payment type the machine reports.
    pub pay_type: String,
    /// Whether the product was made.
    pub ok: bool,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    /// Row id (paging cursor).
    pub id: i64,
    /// The machine's order number.
    pub order_no: String,
    /// The machine.
    pub device_id: String,
    /// Product.
    pub product_id: i64,
    /// Price in fen.
    pub amount_fen: i64,
    /// Requested QR type.
    pub qr_type: String,
    /// State.
    pub state: OrderState,
    /// Payment URL handed to the machine.
    pub pay_url: Option<String>,
    /// Paid but not dispensed: the customer is owed a refund.
    pub refund_due: bool,
    /// Product name from `productdone`.
    pub product_name: Option<String>,
    /// Payment type from `productdone`.
    pub pay_type: Option<String>,
    /// Sales day (UTC, `YYYY-MM-DD`).
    pub day: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Paid (Unix ms).
    pub paid_at: Option<i64>,
    /// Closed by `productdone` (Unix ms).
    pub done_at: Option<i64>,
}

/// Sales of one machine on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sales {
    /// The machine.
    pub device_id: String,
    /// Day (UTC).
    pub day: String,
    /// Products dispensed.
    pub dispensed: i64,
    /// Revenue of the dispensed products, in fen.
    pub revenue_fen: i64,
    /// Paid orders that failed (refund due).
    pub refunds_due: i64,
}

/// A domain rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// No such order.
    #[error("no order `{0}`")]
    Unknown(String),
    /// The order is in a state that does not allow the step.
    #[error("order `{order_no}` is `{state}`: {step} is not possible")]
    WrongState {
        /// The order.
        order_no: String,
        /// Its state.
        state: &'static str,
        /// The step.
        step: &'static str,
    },
    /// The order number belongs to another machine.
    #[error("order `{order_no}` belongs to machine {owner}, not {device}")]
    OtherMachine {
        /// The order.
        order_no: String,
        /// Its machine.
        owner: String,
        /// The machine that used it.
        device: String,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

impl From<sqlx::Error> for OrderError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<StoreError> for OrderError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// What a payment confirmation does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidStep {
    /// Becomes paid now: push `pay_done`.
    Confirm,
    /// Was paid already: nothing to do (a provider retry).
    AlreadyPaid,
}

/// The rule for a payment confirmation.
///
/// # Errors
/// The order was already closed.
pub fn on_paid(order_no: &str, state: OrderState) -> Result<PaidStep, OrderError> {
    match state {
        OrderState::AwaitingPayment => Ok(PaidStep::Confirm),
        OrderState::Paid => Ok(PaidStep::AlreadyPaid),
        OrderState::Dispensed | OrderState::Failed => Err(OrderError::WrongState {
            order_no: order_no.to_owned(),
            state: state.as_str(),
            step: "payment",
        }),
    }
}

/// The rule for `productdone`: the new state and whether a refund is due.
///
/// # Errors
/// The order was already closed.
pub fn on_product_done(
    order_no: &str,
    state: OrderState,
    ok: bool,
) -> Result<(OrderState, bool), OrderError> {
    match (state, ok) {
        (OrderState::Paid, true) => Ok((OrderState::Dispensed, false)),
        (OrderState::Paid, false) => Ok((OrderState::Failed, true)),
        // Never paid through us: nothing to refund. A product made without payment is recorded as such.
        (OrderState::AwaitingPayment, true) => Ok((OrderState::Dispensed, false)),
        (OrderState::AwaitingPayment, false) => Ok((OrderState::Failed, false)),
        (OrderState::Dispensed | OrderState::Failed, _) => Err(OrderError::WrongState {
            order_no: order_no.to_owned(),
            state: state.as_str(),
            step: "productdone",
        }),
    }
}

/// A payment request made by a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The URL the machine shows as a QR code.
    pub url: String,
}

/// A payment provider: makes the payment URL of an order; confirms through [`Orders::paid`].
pub trait PaymentProvider: Send + Sync + 'static {
    /// Creates the payment of `order`.
    fn create<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<PaymentRequest, String>>;
}

/// A provider for testing and demonstrations: URLs under `base_url`, and a confirmation after `confirm_after`
/// (none: only through the API).
pub struct SimulatedProvider {
    base_url: String,
    delay: Duration,
    confirm_after: Option<Duration>,
    confirmations: tokio::sync::mpsc::UnboundedSender<String>,
}

impl SimulatedProvider {
    /// A provider; confirmations are sent as order numbers on `confirmations`.
    pub fn new(
        base_url: String,
        confirm_after: Option<Duration>,
        confirmations: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Self {
        Self {
            base_url,
            delay: Duration::ZERO,
            confirm_after,
            confirmations,
        }
    }

    /// Makes every payment take `delay`, as a gateway's round trip would.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl PaymentProvider for SimulatedProvider {
    fn create<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<PaymentRequest, String>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if let Some(after) = self.confirm_after {
                let tx = self.confirmations.clone();
                let order_no = order.order_no.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = tx.send(order_no);
                });
            }
            Ok(PaymentRequest {
                url: format!(
                    "{}/{}?amount={}",
                    self.base_url.trim_end_matches('/'),
                    order.order_no,
                    order.amount_fen
                ),
            })
        })
    }
}

/// The `pay_done` command body (the link's typed command JSON).
pub fn pay_done_command(order: &Order) -> CommandSpec {
    CommandSpec {
        kind: "pay_done".into(),
        payload: serde_json::json!({
            "cmd": "pay_done",
            "order_no": order.order_no,
            "product_amount": order.amount_fen,
            "paydone": true,
            "paytype": "qr_pay",
        }),
        // Pushing it twice could make a second product.
        idempotent: false,
        expects_ack: false,
    }
}

const ORDER_COLUMNS: &str =
    "id, order_no, device_id, product_id, amount_fen, qr_type, state, pay_url, refund_due, \
     product_name, pay_type, day, created_at, paid_at, done_at";

fn order_from_row(row: &AnyRow) -> Result<Order, OrderError> {
    let state: String = row.try_get("state")?;
    Ok(Order {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        device_id: row.try_get("device_id")?,
        product_id: row.try_get("product_id")?,
        amount_fen: row.try_get("amount_fen")?,
        qr_type: row.try_get("qr_type")?,
        state: OrderState::parse(&state)
            .ok_or_else(|| OrderError::Store(format!("bad order state `{state}`")))?,
        pay_url: row.try_get("pay_url")?,
        refund_due: row.try_get::<i64, _>("refund_due")? != 0,
        product_name: row.try_get("product_name")?,
        pay_type: row.try_get("pay_type")?,
        day: row.try_get("day")?,
        created_at: row.try_get("created_at")?,
        paid_at: row.try_get("paid_at")?,
        done_at: row.try_get("done_at")?,
    })
}

/// Filters of [`Orders::list`].
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this machine.
    pub device_id: Option<String>,
    /// Only this state.
    pub state: Option<OrderState>,
    /// Only rows below this id.
    pub before: Option<i64>,
    /// Page size.
    pub limit: i64,
}

/// The orders service.
#[derive(Clone)]
pub struct Orders {
    fleet: Fleet,
    provider: Arc<dyn PaymentProvider>,
    pay_done_ttl: Duration,
}

impl Orders {
    /// The service over `fleet`'s store (its migrations must have run).
    pub fn new(fleet: Fleet, provider: Arc<dyn PaymentProvider>, pay_done_ttl: Duration) -> Self {
        Self {
            fleet,
            provider,
            pay_done_ttl,
        }
    }

    /// The embedded migrations of the orders table for the store's database.
    pub fn migrator(backend: fleet::store::Backend) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/coffee-server/migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/coffee-server/migrations/postgres");
        match backend {
            fleet::store::Backend::Sqlite => &SQLITE,
            fleet::store::Backend::Postgres => &POSTGRES,
        }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.fleet.store().pool()
    }

    /// One order.
    ///
    /// # Errors
    /// Store failure.
    pub async fn get(&self, order_no: &str) -> Result<Option<Order>, OrderError> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM coffee_orders WHERE order_no = $1"
        ))
        .bind(order_no)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// One order that must exist: [`OrderError::Unknown`] otherwise.
    async fn existing(&self, order_no: &str) -> Result<Order, OrderError> {
        self.get(order_no)
            .await?
            .ok_or_else(|| OrderError::Unknown(order_no.to_owned()))
    }

    /// Orders, newest first.
    ///
    /// # Errors
    /// Store failure.
    pub async fn list(&self, f: &OrderFilter) -> Result<Vec<Order>, OrderError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM coffee_orders WHERE ($1 IS NULL OR device_id = $1) \
             AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(f.device_id.as_deref())
        .bind(f.state.map(OrderState::as_str))
        .bind(f.before)
        .bind(f.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Sales per machine and day, newest day first then by machine, at most `limit` rows after `after` (the
    /// `(day, device_id)` of the previous page's last row).
    ///
    /// # Errors
    /// Store failure.
    pub async fn sales(
        &self,
        device_id: Option<&str>,
        since_day: Option<&str>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<Sales>, OrderError> {
        // PostgreSQL sums BIGINT as NUMERIC: cast back so both databases answer BIGINT.
        let rows = sqlx::query(
            "SELECT device_id, day, \
             CAST(SUM(CASE WHEN state = 'dispensed' THEN 1 ELSE 0 END) AS BIGINT) AS dispensed, \
             CAST(SUM(CASE WHEN state = 'dispensed' THEN amount_fen ELSE 0 END) AS BIGINT) AS revenue, \
             CAST(SUM(CASE WHEN refund_due = 1 THEN 1 ELSE 0 END) AS BIGINT) AS refunds \
             FROM coffee_orders WHERE ($1 IS NULL OR device_id = $1) AND ($2 IS NULL OR day >= $2) \
             AND ($3 IS NULL OR day < $3 OR (day = $3 AND device_id > $4)) \
             GROUP BY device_id, day ORDER BY day DESC, device_id LIMIT $5",
        )
        .bind(device_id)
        .bind(since_day)
        .bind(after.map(|a| a.0))
        .bind(after.map_or("", |a| a.1))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Sales {
                    device_id: r.try_get("device_id")?,
                    day: r.try_get("day")?,
                    dispensed: r.try_get("dispensed")?,
                    revenue_fen: r.try_get("revenue")?,
                    refunds_due: r.try_get("refunds")?,
                })
            })
            .collect()
    }

    /// `qrcode`: creates the order (or finds the one with this number) and returns its payment URL.
    ///
    /// # Errors
    /// The order number belongs to another machine, the provider failed, or the store failed.
    pub async fn qrcode(&self, req: &QrRequest) -> Result<Order, OrderError> {
        // A repeated number is answered from the store (a read, off the one writer).
        if let Some(order) = self.get(&req.order_no).await? {
            return self.repeated(order, req).await;
        }
        let now = fleet::now_ms();
        let day = chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string();
        let draft = Order {
            id: 0,
            order_no: req.order_no.clone(),
            device_id: req.device_id.clone(),
            product_id: i64::from(req.product_id),
            amount_fen: i64::from(req.amount_fen),
            qr_type: req.qr_type.clone(),
            state: OrderState::AwaitingPayment,
            pay_url: None,
            refund_due: false,
            product_name: None,
            pay_type: None,
            day,
            created_at: now,
            paid_at: None,
            done_at: None,
        };
        // The payment first, so the order is written once, with its URL: a provider failure leaves no order
        // and the machine's repeated `qrcode` tries again.
        let payment = self
            .provider
            .create(&draft)
            .await
            .map_err(OrderError::Store)?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO coffee_orders (order_no, device_id, product_id, amount_fen, qr_type, state, pay_url, day, \
             created_at) VALUES ($1, $2, $3, $4, $5, 'awaiting_payment', $6, $7, $8) \
             ON CONFLICT (order_no) DO NOTHING RETURNING {ORDER_COLUMNS}"
        ))
        .bind(&draft.order_no)
        .bind(&draft.device_id)
        .bind(draft.product_id)
        .bind(draft.amount_fen)
        .bind(&draft.qr_type)
        .bind(&payment.url)
        .bind(&draft.day)
        .bind(now)
        .fetch_optional(self.fleet.store().writer())
        .await?;
        let Some(row) = inserted else {
            // A concurrent repeat wrote it first: that order and its payment are the machine's.
            return self
                .repeated(self.existing(&req.order_no).await?, req)
                .await;
        };
        let order = order_from_row(&row)?;
        self.fleet
            .event(
                Some(&order.device_id),
                "order",
                &serde_json::json!({ "order_no": order.order_no, "state": order.state, "amount_fen": order.amount_fen }),
            )
            .await;
        Ok(order)
    }

    /// A `qrcode` for an order number the store has: the same payment, unless the number is another machine's.
    /// An order stored without a URL (by an earlier version that wrote the URL separately) gets one now.
    async fn repeated(&self, order: Order, req: &QrRequest) -> Result<Order, OrderError> {
        if order.device_id != req.device_id {
            return Err(OrderError::OtherMachine {
                order_no: order.order_no,
                owner: order.device_id,
                device: req.device_id.clone(),
            });
        }
        if order.pay_url.is_some() {
            return Ok(order);
        }
        let payment = self
            .provider
            .create(&order)
            .await
            .map_err(OrderError::Store)?;
        sqlx::query(
            "UPDATE coffee_orders SET pay_url = $2 WHERE order_no = $1 AND pay_url IS NULL",
        )
        .bind(&order.order_no)
        .bind(&payment.url)
        .execute(self.fleet.store().writer())
        .await?;
        self.existing(&order.order_no).await
    }

    /// A payment confirmation: marks the order paid and queues `pay_done` for the machine (once).
    ///
    /// A confirmation of an order already paid queues the `pay_done` again under the same idempotency key, so a
    /// confirmation retried after a crash between the two writes still reaches the machine, and never twice.
    ///
    /// # Errors
    /// Unknown order, an order already closed, or a store failure.
    pub async fn paid(&self, order_no: &str) -> Result<Order, OrderError> {
        let order = self.existing(order_no).await?;
        if on_paid(order_no, order.state)? == PaidStep::AlreadyPaid {
            self.ensure_pay_done(&order).await?;
            return Ok(order);
        }
        let moved = sqlx::query(
            "UPDATE coffee_orders SET state = 'paid', paid_at = $2 WHERE order_no = $1 AND state = 'awaiting_payment'",
        )
        .bind(order_no)
        .bind(fleet::now_ms())
        .execute(self.fleet.store().writer())
        .await?;
        let order = self.existing(order_no).await?;
        self.ensure_pay_done(&order).await?;
        if moved.rows_affected() == 1 {
            self.fleet
                .event(
                    Some(&order.device_id),
                    "order",
                    &serde_json::json!({ "order_no": order_no, "state": "paid" }),
                )
                .await;
        }
        Ok(order)
    }

    /// Queues the `pay_done` of a paid order whose push is still within its TTL of the payment; the key makes it
    /// happen once however often this runs (two confirmations racing, a retried one, the start-up repair). A
    /// payment older than the TTL is not pushed: its `pay_done` would have expired, and its key may be gone.
    async fn ensure_pay_done(&self, order: &Order) -> Result<(), OrderError> {
        let (OrderState::Paid, Some(paid_at)) = (order.state, order.paid_at) else {
            return Ok(());
        };
        let left_ms = paid_at.saturating_add(self.pay_done_ttl_ms()) - fleet::now_ms();
        let Some(left_ms) = u64::try_from(left_ms).ok().filter(|ms| *ms > 0) else {
            return Ok(());
        };
        let key = format!("pay_done:{}", order.order_no);
        self.fleet
            .enqueue(
                &order.device_id,
                &pay_done_command(order),
                Some(Duration::from_millis(left_ms)),
                Some(&key),
            )
            .await?;
        Ok(())
    }

    fn pay_done_ttl_ms(&self) -> i64 {
        i64::try_from(self.pay_done_ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// At start: queues the `pay_done` of every order paid within the TTL whose push was never queued (a crash
    /// between marking an order paid and queueing its push). Returns how many orders were looked at.
    ///
    /// # Errors
    /// A store failure.
    pub async fn repair_pay_done(&self) -> Result<usize, OrderError> {
        let since = fleet::now_ms().saturating_sub(self.pay_done_ttl_ms());
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM coffee_orders WHERE state = 'paid' AND paid_at > $1"
        ))
        .bind(since)
        .fetch_all(self.fleet.store().pool())
        .await?;
        for row in &rows {
            self.ensure_pay_done(&order_from_row(row)?).await?;
        }
        Ok(rows.len())
    }

    /// `productdone`: closes the order.
    ///
    /// # Errors
    /// Unknown order, a closed order, another machine's order, or a store failure.
    pub async fn product_done(&self, report: &ProductReport) -> Result<Order, OrderError> {
        let order = self.existing(&report.order_no).await?;
        if order.device_id != report.device_id {
            return Err(OrderError::OtherMachine {
                order_no: order.order_no,
                owner: order.device_id,
                device: report.device_id.clone(),
            });
        }
        let (state, refund) = on_product_done(&order.order_no, order.state, report.ok)?;
        sqlx::query(
            "UPDATE coffee_orders SET state = $2, refund_due = $3, product_name = $4, pay_type = $5, done_at = $6 \
             WHERE order_no = $1 AND state = $7",
        )
        .bind(&order.order_no)
        .bind(state.as_str())
        .bind(i64::from(refund))
        .bind(&report.product_name)
        .bind(&report.pay_type)
        .bind(fleet::now_ms())
        .bind(order.state.as_str())
        .execute(self.fleet.store().writer())
        .await?;
        let order = self.existing(&report.order_no).await?;
        self.fleet
            .event(
                Some(&order.device_id),
                "order",
                &serde_json::json!({ "order_no": order.order_no, "state": order.state, "refund_due": order.refund_due }),
            )
            .await;
        Ok(order)
    }
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders")
            .field("pay_done_ttl", &self.pay_done_ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_is_confirmed_once() {
        assert_eq!(
            on_paid("o", OrderState::AwaitingPayment),
            Ok(PaidStep::Confirm)
        );
        assert_eq!(on_paid("o", OrderState::Paid), Ok(PaidStep::AlreadyPaid));
        let err = on_paid("o", OrderState::Dispensed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "order `o` is `dispensed`: payment is not possible"
        );
    }

    #[test]
    fn a_failed_paid_order_is_owed_a_refund() {
        assert_eq!(
            on_product_done("o", OrderState::Paid, true),
            Ok((OrderState::Dispensed, false))
        );
        assert_eq!(
            on_product_done("o", OrderState::Paid, false),
            Ok((OrderState::Failed, true))
        );
        assert_eq!(
            on_product_done("o", OrderState::AwaitingPayment, false),
            Ok((OrderState::Failed, false))
        );
        assert!(on_product_done("o", OrderState::Failed, true).is_err());
        assert!(on_product_done("o", OrderState::Dispensed, false).is_err());
    }

    #[test]
    fn pay_done_is_never_resent() {
        let order = Order {
            id: 1,
            order_no: "A1".into(),
            device_id: "7".into(),
            product_id: 3,
            amount_fen: 450,
            qr_type: "all".into(),
            state: OrderState::Paid,
            pay_url: None,
            refund_due: false,
            product_name: None,
            pay_type: None,
            day: "2026-01-01".into(),
            created_at: 0,
            paid_at: None,
            done_at: None,
        };
        let spec = pay_done_command(&order);
        assert!(!spec.idempotent);
        assert_eq!(spec.payload["product_amount"], 450);
        assert_eq!(spec.payload["order_no"], "A1");
    }
}
