//! Every JSON example of jetinno.md decodes to the right typed message and round-trips.

use jetinno_proto::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn machine(name: &str) -> MachineMessage {
    let msg = MachineMessage::from_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = MachineMessage::from_json(&msg.to_json().unwrap()).unwrap();
    assert_eq!(again, msg, "{name} does not round-trip");
    msg
}

fn server(name: &str) -> ServerMessage {
    let msg = ServerMessage::from_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = ServerMessage::from_json(&msg.to_json().unwrap()).unwrap();
    assert_eq!(again, msg, "{name} does not round-trip");
    msg
}

#[test]
fn machine_messages() {
    assert_eq!(
        machine("hb.json"),
        MachineMessage::Heartbeat(MachineHeartbeat { vmc_no: 33232 })
    );
    assert_eq!(
        machine("login.json"),
        MachineMessage::Login(Login {
            vmc_no: 33232,
            timestamp: 20150624,
            sign: "594f803b380a41396ed63dca3950354".into(),
            version: "1.2.8.8".into(),
            linux_driver_version: Some("1.3".into()),
        })
    );
    assert_eq!(
        machine("machinestatus.json"),
        MachineMessage::MachineStatus(MachineStatus {
            vmc_no: 33232,
            status: MachineState::ClearError,
        })
    );
    assert_eq!(
        machine("error.json"),
        MachineMessage::Error(ErrorReport {
            vmc_no: 33232,
            datetime: "20161212".into(),
            error_code: "EC_2".into(),
            error_description: "No machine connected".into(),
            is_set: true,
            is_fatal_error: true,
            is_persistence_error: true,
        })
    );
    assert_eq!(
        machine("qrcode.json"),
        MachineMessage::QrCode(QrCodeRequest {
            vmc_no: 33232,
            qr_type: QrType::All,
            product_id: 810,
            amount: 1000,
            order_no: "594f803b380a41396ed63dca3950354".into(),
        })
    );
    assert_eq!(
        machine("productdone.json"),
        MachineMessage::ProductDone(ProductDone {
            vmc_no: 33232,
            product_name: "Hot milk".into(),
            product_id: 701,
            product_amount: 1000,
            pay_type: PayType::QrPay,
            is_ok: true,
            order_no: "bc114ddb5370a97a9012ca695f7ffa25".into(),
        })
    );
}

#[test]
fn server_messages() {
    assert_eq!(
        server("hb_reply.json"),
        ServerMessage::Heartbeat(ServerHeartbeat { vmc_no: None })
    );
    let reply = server("login_r.json");
    assert_eq!(
        reply,
        ServerMessage::LoginReply(LoginReply {
            vmc_no: None,
            date_time: "2017-05-01 02:13:50".into(),
            ret: 0,
        })
    );
    assert!(matches!(reply, ServerMessage::LoginReply(r) if r.is_ok()));
    assert_eq!(
        server("qrcode_r.json"),
        ServerMessage::QrCodeReply(QrCodeReply {
            vmc_no: 33232,
            qr_type: QrType::WxPub,
            qrcode: "XXXXXXXXXXXXXXXX".into(),
            order_no: "594f803b380a41396ed63dca3950354".into(),
        })
    );
    assert_eq!(
        server("pay_done.json"),
        ServerMessage::PayDone(PayDone {
            vmc_no: 33232,
            product_amount: 1000,
            order_no: "594f803b380a41396ed63dca3950354".into(),
            paydone: true,
            paytype: PayType::WxPub,
        })
    );
    assert_eq!(
        server("products.json"),
        ServerMessage::Products(Products {
            vmc_no: 33232,
            product_id: 810,
            fastcode: FastCode::new(2, 1, 3).unwrap(),
            paydone: true,
            paytype: PayType::FastCode,
        })
    );
    assert_eq!(
        server("reboot.json"),
        ServerMessage::Reboot(Reboot { vmc_no: 33232 })
    );
    assert_eq!(
        server("opendoor.json"),
        ServerMessage::OpenDoor(OpenDoor { vmc_no: 33232 })
    );
    assert_eq!(
        server("upgrade.json"),
        ServerMessage::Upgrade(Upgrade {
            vmc_no: 33232,
            dir: "http://192.168.1.200:12345/update ".into(),
        })
    );
    assert_eq!(
        server("rinsing.json"),
        ServerMessage::Rinsing(Rinsing { vmc_no: 33232 })
    );
    assert_eq!(
        server("priceset.json"),
        ServerMessage::PriceSet(PriceSet {
            vmc_no: 33232,
            price: vec![(810, 1000, 1).into(), (701, 1200, 1).into()],
        })
    );
    assert_eq!(
        server("discount.json"),
        ServerMessage::Discount(Discount {
            vmc_no: 33232,
            discount: 80,
        })
    );
}

#[test]
fn every_fixture_is_covered_and_decodes_in_the_any_direction_view() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 17, "{names:?}");
    for name in names {
        let msg = Message::from_json(&fixture(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(msg.is_known(), "{name}");
        let expect_machine = [
            "hb.json",
            "login.json",
            "machinestatus.json",
            "error.json",
            "qrcode.json",
            "productdone.json",
        ]
        .contains(&name.as_str());
        assert_eq!(matches!(msg, Message::Machine(_)), expect_machine, "{name}");
        assert_eq!(Message::from_json(&msg.to_json().unwrap()).unwrap(), msg);
    }
}

#[test]
fn encoders_write_strict_json_with_cmd_first_and_wire_names() {
    let json = String::from_utf8(server("reboot.json").to_json().unwrap()).unwrap();
    assert_eq!(json, r#"{"cmd":"reboot","vmc_no":33232}"#);
    let json = String::from_utf8(machine("productdone.json").to_json().unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"cmd":"productdone","vmc_no":33232,"ProductName":"Hot milk","ProductId":701,"ProductAmount":1000,"PayType":"qr_pay","isok":true,"order_no":"bc114ddb5370a97a9012ca695f7ffa25"}"#
    );
    let json = String::from_utf8(server("priceset.json").to_json().unwrap()).unwrap();
    assert_eq!(
        json,
        r#"{"cmd":"priceset","vmc_no":33232,"price":[[810,1000,1],[701,1200,1]]}"#
    );
}
