//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent): a bound
//! vehicle with its owner, online state, battery and last position, and its instance up.

use crate::{dashboard, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_vehicle_its_owner_online_state_battery_and_position() {
    if dashboard::absent() {
        return;
    }
    let h = Harness::start(1).await;
    h.wait_link(true).await;
    let alice = h.user("13800000009").await;
    alice.bind(1001, 1).await.unwrap();
    let usr = alice.usr_id().to_string();
    let admin = h.admin.clone();
    let bike = h
        .until("vehicle 1001 online and owned", || {
            let admin = admin.clone();
            let usr = usr.clone();
            async move {
                let v = admin.get("/api/vehicles").await.ok()?.json();
                let bike = v["items"]
                    .as_array()?
                    .iter()
                    .find(|b| b["dev_id"] == 1001)?
                    .clone();
                (bike["online"] == true && bike["owner"].as_u64() == usr.parse().ok())
                    .then_some(bike)
            }
        })
        .await;
    let url = format!("http://{}/", h.server().admin_addr);

    let html = dashboard::dom(&url, "1400,1400").await;
    // dev_id, instance, owner, online, soc, lng, lat, driving: as the API gave them.
    let vehicles = dashboard::panel_rows(&html, "Vehicles");
    let row = vehicles
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("1001"))
        .unwrap_or_else(|| panic!("vehicle 1001 missing: {vehicles:?}"));
    assert_eq!(row[2], usr, "owner: {row:?}");
    assert_eq!(row[3], "true", "online: {row:?}");
    // Numbers as the page prints them (JavaScript's shortest form) are the API's values.
    for (i, field) in [(4, "soc"), (5, "lng"), (6, "lat")] {
        let cell: f64 = row[i]
            .parse()
            .unwrap_or_else(|e| panic!("{field} `{}`: {e}", row[i]));
        assert_eq!(Some(cell), bike[field].as_f64(), "{field}: {row:?}");
    }
    let instances = dashboard::panel_rows(&html, "Vehicle instances");
    assert!(
        instances
            .iter()
            .any(|r| r.get(2).map(String::as_str) == Some("true")),
        "instance not shown up: {instances:?}"
    );

    dashboard::screenshot(&url, "1400,1400", "vehicle.png").await;
    h.stop().await;
}
