//! Two `flightcast` processes against one real broker: an upload and activation through either
//! is active on both within a stated time, components bigger than Kafka's default message size
//! travel too, and after a restart both come back on the same versions without compiling.

mod support;

use std::time::Duration;

use support::admin::{self, OPERATOR};
use support::broker::Tansu;
use support::Service;

/// How soon an activation made through one instance must be active on the other.
const CONVERGENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_instances_converge_through_the_control_topic_and_restart_without_compiling() {
    let tansu = Tansu::start();
    let topic = "flights-fleet";
    tansu.create_topic(topic, 1).await;
    let kafka = format!(
        "brokers = \"{}\"\ntopic = \"{topic}\"\nstart_from = \"earliest\"",
        tansu.addr
    );
    let config = support::config(&kafka, &admin::tokens());
    let stores = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = Service::start_with_store("fleet-a", &config, stores[0].path());
    let second = Service::start_with_store("fleet-b", &config, stores[1].path());

    // 1.5 MB: over Kafka's default 1 MB message size, so it must travel in chunks.
    let big = admin::padded(&admin::component("swap-a"), 1_500_000);
    let big_sha = admin::deploy(&first.admin, "demo", &big).await;
    let took = admin::wait_active(&second.admin, "demo", &big_sha, CONVERGENCE).await;
    println!("activation through instance A active on instance B after {took:?}");
    // The other way round, and on another tenant.
    let other = admin::padded(&admin::component("swap-b"), 10);
    let other_sha = admin::deploy(&second.admin, "partner", &other).await;
    let took = admin::wait_active(&first.admin, "partner", &other_sha, CONVERGENCE).await;
    println!("activation through instance B active on instance A after {took:?}");
    // B holds the version A uploaded, byte for byte, listed under its uploader.
    let versions = admin::get(&second.admin, "/v1/tenants/demo/versions", OPERATOR)
        .await
        .body;
    let listed = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sha256"] == big_sha.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["size_bytes"], big.len());
    assert_eq!(listed["uploader"], "olivia-operator");
    assert_eq!(listed["active"], true);

    // A rollback through B reaches A too.
    let rolled = admin::post(&second.admin, "/v1/tenants/partner/rollback", OPERATOR).await;
    assert_eq!(rolled.status, 200, "{:?}", rolled.body);
    let previous = rolled.body["active"].as_str().unwrap().to_string();
    admin::wait_active(&first.admin, "partner", &previous, CONVERGENCE).await;

    // Restart both: the same versions, none compiled again.
    drop(first);
    drop(second);
    let first = Service::start_with_store("fleet-a-restarted", &config, stores[0].path());
    let second = Service::start_with_store("fleet-b-restarted", &config, stores[1].path());
    for service in [&first, &second] {
        admin::wait_active(&service.admin, "demo", &big_sha, CONVERGENCE).await;
        admin::wait_active(&service.admin, "partner", &previous, CONVERGENCE).await;
        let compiled = service
            .metric(
                "flightcast_filter_compiles_total",
                &[("source", "compiled")],
            )
            .await;
        let cached = service
            .metric("flightcast_filter_compiles_total", &[("source", "cache")])
            .await;
        assert_eq!(compiled, 0.0, "a restart compiled a component again");
        assert!(
            cached >= 2.0,
            "the restart loaded {cached} components from the cache"
        );
    }
}
