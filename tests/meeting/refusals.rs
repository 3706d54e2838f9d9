//! What the platform refuses: oversized MQTT payloads, wrong credentials, replayed lookups.

use std::sync::Arc;
use std::time::Duration;

use best_proto::broker::BrokerType;
use best_proto::Code;
use bytes::Bytes;
use device_core::best::{BrokerLookup, DeviceConfig, DeviceEvent, DeviceSession};
use device_core::runtime::client::{ClientConfig, ClientEvent};
use device_core::runtime::http::{lookup, LookupError};
use device_core::runtime::mqtt::{self, BrokerAddr, MqttConfig};
use device_core::runtime::{Transport as _, TransportError};
use device_core::{SplitMix64, SystemClock};

use crate::{sim, Harness, SEED, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_mqtt_payload_is_refused_and_the_terminal_logs_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir.path(), None, |c| c.terminals.heartbeat_secs = 1).await;
    h.provision("MQ", 1, 1).await;
    let s = h.terminals("MQ", 1, 1, sim::Transport::Mqtt).await;
    let broker = h.platform.broker.clone();
    let limit = 256 * 1024;
    // A peer publishing as the terminal, over the limit: the platform refuses it, never truncates.
    let wire = device_core::Wire::message(limit, 1024, None);
    let mut rogue = mqtt::connect_device(
        &broker,
        "rogue",
        &wire,
        &MqttConfig::default().max_payload(4 * limit),
    )
    .await
    .unwrap();
    let (client, mut eventloop) = rumqttc_client(&broker);
    let oversized = vec![b' '; limit + 1];
    client
        .publish(
            "best/MQ000001/up",
            rumqttc::QoS::AtLeastOnce,
            false,
            oversized,
        )
        .await
        .unwrap();
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let events = h
        .poll("/api/events?device=MQ000001&kind=offline", |e| {
            e["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let reason = events["items"][0]["data"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains(&format!("exceeds the limit of {limit}")),
        "{reason}"
    );
    // The terminal's next heartbeat is answered `10000003`: it reconnects and logs in again.
    let t = s.terminal("MQ000001").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while t.local().logins < 2 || !t.local().online {
        assert!(
            tokio::time::Instant::now() < deadline,
            "terminal never logged in again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.poll("/api/devices/MQ000001", |d| d["online"] == true)
        .await;
    // A sender refuses an oversized payload itself.
    let err = rogue
        .send(Bytes::from(vec![b'x'; 4 * limit + 1]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::PayloadTooLarge { len, max } if len == 4 * limit + 1 && max == 4 * limit),
        "{err}"
    );
    h.platform.shutdown().await;
}

fn rumqttc_client(broker: &BrokerAddr) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new("oversize-sender", broker.host.clone(), broker.port);
    o.set_max_packet_size(4 << 20, 4 << 20);
    rumqttc::AsyncClient::new(o, 8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_replayed_lookups_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("MQ", 1, 1).await;
    let sn = sim::sn("MQ", 1);
    let key = sim::secret_key(SEED, &sn);
    let t = Duration::from_secs(5);
    let refused_code = |e: LookupError| match e {
        LookupError::Refused(reply) => reply.code.as_str().to_owned(),
        other => panic!("expected a refusal, got {other}"),
    };
    // Wrong secret key: bad sign.
    let mut wrong = BrokerLookup::new(
        sn.clone(),
        BrokerType::BestM,
        "not-the-key",
        Arc::new(SystemClock),
    );
    assert_eq!(
        refused_code(lookup(&h.lookup(), &mut wrong, t).await.unwrap_err()),
        "10000001"
    );
    // Unknown terminal.
    let mut unknown = BrokerLookup::new(
        "NOPE01",
        BrokerType::BestM,
        key.clone(),
        Arc::new(SystemClock),
    );
    assert_eq!(
        refused_code(lookup(&h.lookup(), &mut unknown, t).await.unwrap_err()),
        "10000002"
    );
    // The same signed query twice (same nonce, same timestamp window): the second is a replay.
    let mut first = BrokerLookup::new(
        sn.clone(),
        BrokerType::BestM,
        key.clone(),
        Arc::new(SystemClock),
    )
    .with_rng(Box::new(SplitMix64::seeded(99)));
    let info = lookup(&h.lookup(), &mut first, t).await.unwrap();
    assert_eq!(
        info.url,
        format!("mqtt://127.0.0.1:{}", h.platform.broker.port)
    );
    let mut replay = BrokerLookup::new(
        sn.clone(),
        BrokerType::BestM,
        key.clone(),
        Arc::new(SystemClock),
    )
    .with_rng(Box::new(SplitMix64::seeded(99)));
    assert_eq!(
        refused_code(lookup(&h.lookup(), &mut replay, t).await.unwrap_err()),
        "10000001"
    );
    // Onboarding over MQTT with the wrong secret key: register refused with 10000001.
    let session = DeviceSession::new(DeviceConfig::new(
        sn.clone(),
        sim::PRODUCT,
        "not-the-key",
        sim::report(4),
    ));
    let (client, mut events) = mqtt::client(
        session,
        h.platform.broker.clone(),
        sn.clone(),
        MqttConfig::default(),
        ClientConfig::default(),
    );
    let code = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(ClientEvent::Session(DeviceEvent::HandshakeRejected { response, .. })) =
                events.recv().await
            {
                return response.code;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(code, Code::BadCredentials);
    drop(client);
    let refused = h
        .poll(
            &format!("/api/events?device={sn}&kind=login_refused"),
            |e| e["items"].as_array().is_some_and(|i| !i.is_empty()),
        )
        .await;
    assert!(refused["items"][0]["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("10000001"));
    h.platform.shutdown().await;
}
