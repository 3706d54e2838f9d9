//! The coffee routes of the admin API: orders and sales.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet::api::{limit_param, param, Page};
use fleet::{ApiQuery, Authorized, Problem, RouteTable};
use serde::Deserialize;
use utoipa::OpenApi;

use super::orders::{Order, OrderError, OrderFilter, OrderState, Orders, Sales};

fn problem(e: OrderError) -> Problem {
    match e {
        OrderError::Unknown(o) => Problem::not_found("order", &o),
        e @ (OrderError::WrongState { .. } | OrderError::OtherMachine { .. }) => {
            Problem::conflict(e.to_string())
        }
        OrderError::Store(s) => Problem::unavailable(format!("store: {s}")),
    }
}

/// Query of `GET /api/orders`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only this machine.
    device: Option<String>,
    /// Only this state (`awaiting_payment`, `paid`, `dispensed`, `failed`).
    state: Option<String>,
    /// Cursor: the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

/// Query of `GET /api/sales`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SalesQuery {
    /// Only this machine.
    device: Option<String>,
    /// Only days from this one (`YYYY-MM-DD`).
    since: Option<String>,
    /// Cursor: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

/// `GET /api/orders`: orders, newest first.
#[utoipa::path(get, path = "/api/orders", params(OrdersQuery),
    responses((status = 200, body = Page<Order>), (status = 400, body = Problem)))]
async fn list_orders(
    State(o): State<Orders>,
    ApiQuery(q): ApiQuery<OrdersQuery>,
) -> Result<Json<Page<Order>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<OrderState>(serde_json::Value::String(s.to_owned()))
                .map_err(|e| Problem::invalid("state", e))?,
        ),
    };
    let filter = OrderFilter {
        device_id: q.device,
        state,
        before: param::<i64>("cursor", q.cursor.as_deref())?,
        limit,
    };
    let items = o.list(&filter).await.map_err(problem)?;
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        items.last().map(|o| o.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/orders/{order_no}`.
#[utoipa::path(get, path = "/api/orders/{order_no}", params(("order_no" = String, Path, description = "the machine's order number")),
    responses((status = 200, body = Order), (status = 404, body = Problem)))]
async fn get_order(
    State(o): State<Orders>,
    Path(order_no): Path<String>,
) -> Result<Json<Order>, Problem> {
    o.get(&order_no)
        .await
        .map_err(problem)?
        .map(Json)
        .ok_or_else(|| Problem::not_found("order", &order_no))
}

/// `POST /api/orders/{order_no}/paid`: confirms the payment (as a provider callback would); the machine gets
/// `pay_done`. Repeating it changes nothing.
#[utoipa::path(post, path = "/api/orders/{order_no}/paid", params(("order_no" = String, Path, description = "the machine's order number")),
    security(("bearer" = [])),
    responses((status = 200, body = Order), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn order_paid(
    State(o): State<Orders>,
    _auth: Authorized,
    Path(order_no): Path<String>,
) -> Result<Json<Order>, Problem> {
    o.paid(&order_no).await.map(Json).map_err(problem)
}

/// `GET /api/sales`: dispensed products and revenue per machine and day.
#[utoipa::path(get, path = "/api/sales", params(SalesQuery),
    responses((status = 200, body = Page<Sales>), (status = 400, body = Problem)))]
async fn sales(
    State(o): State<Orders>,
    ApiQuery(q): ApiQuery<SalesQuery>,
) -> Result<Json<Page<Sales>>, Problem> {
    if let Some(day) = q.since.as_deref().filter(|s| !s.is_empty()) {
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|e| Problem::invalid("since", format!("`{day}`: {e}")))?;
    }
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    // The cursor is `DAY/DEVICE` of the previous page's last row.
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.split_once('/').ok_or_else(|| {
            Problem::invalid(
                "cursor",
                format!("`{c}`: expected the `next_cursor` of a page"),
            )
        })?),
    };
    let items = o
        .sales(
            q.device.as_deref(),
            q.since.as_deref().filter(|s| !s.is_empty()),
            after,
            limit,
        )
        .await
        .map_err(problem)?;
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        items
            .last()
            .map(|s: &Sales| format!("{}/{}", s.day, s.device_id))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_orders, get_order, order_paid, sales),
    components(schemas(
        Order,
        OrderState,
        Sales,
        super::link::CoffeeCommand,
        super::link::Price
    ))
)]
struct CoffeeDoc;

/// The coffee routes and their OpenAPI document.
pub fn routes(orders: Orders) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
    let table = RouteTable::new()
        .route("get", "/api/orders", get(list_orders))
        .route("get", "/api/orders/{order_no}", get(get_order))
        .route("post", "/api/orders/{order_no}/paid", post(order_paid))
        .route("get", "/api/sales", get(sales));
    (table.finish(orders), CoffeeDoc::openapi())
}
