use std::process::Command;

use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

use crate::child::spawn_parley;

/// `parley serve` with PEM files serves HTTPS with rustls, WebSocket included.
#[tokio::test]
async fn serves_https_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config = dir.path().join("parley.toml");
    std::fs::write(
        &config,
        format!(
            "server_name = \"test.local\"\n[http]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"{0}/cert.pem\"\ntls_key = \"{0}/key.pem\"\n[storage]\ndata_dir = \"{0}/data\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let (mut child, addr) = spawn_parley(&["serve", "--config", config.to_str().unwrap()], &[]);
    let port = addr.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let res = client.get(format!("https://localhost:{port}/health/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = client
        .post(format!("https://localhost:{port}/api/auth/register"))
        .json(&json!({ "username": "ana", "password": "password-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health/live")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    child.kill().ok();
    child.wait().ok();

    // A config naming only one of the PEM files is refused, naming the key.
    std::fs::write(&config, "[http]\ntls_cert = \"/x.pem\"\n").unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("http.tls_cert"));
}

/// X-Forwarded-For is believed only from configured proxies (seen through per-IP limits).
#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies() {
    async fn attempts(app: &TestAppliance, xff: &str) -> Vec<StatusCode> {
        let mut out = Vec::new();
        for i in 0..3 {
            let res = app
                .http
                .post(app.url("/api/auth/login"))
                .header("x-forwarded-for", xff)
                .json(&json!({ "login": format!("user{i}"), "password": "password-1" }))
                .send()
                .await
                .unwrap();
            out.push(res.status());
        }
        out
    }
    let behind_proxy = TestAppliance::start_with(|s| {
        s.auth.login_per_ip_per_minute = 2;
        s.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let a = attempts(&behind_proxy, "10.0.0.1").await;
    assert_eq!(a[2], StatusCode::TOO_MANY_REQUESTS, "{a:?}");
    // Another client behind the same proxy has its own budget.
    let b = attempts(&behind_proxy, "203.0.113.9, 10.0.0.2").await;
    assert_eq!(b[0], StatusCode::UNAUTHORIZED, "{b:?}");

    // Without trusted proxies the header is ignored: every request is 127.0.0.1's.
    let direct = TestAppliance::start_with(|s| s.auth.login_per_ip_per_minute = 2).await;
    attempts(&direct, "10.0.0.1").await;
    let c = attempts(&direct, "10.0.0.2").await;
    assert_eq!(c[0], StatusCode::TOO_MANY_REQUESTS, "{c:?}");
}
