//! Operations: Prometheus metrics checked by promtool and scraped by a real Prometheus,
//! readiness, and a graceful stop on SIGTERM. Needs Debian's `prometheus` package
//! (`cargo xtask test` installs it).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parley_testkit::{TestAppliance, WsClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::child::{call, spawn_parley_with_metrics};

const SENT: usize = 7;

/// Kills the child when dropped, so a failing assertion leaves no process behind.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(path: &str) -> &str {
    assert!(
        std::path::Path::new(path).exists(),
        "{path} is missing: install Debian's `prometheus` package (`cargo xtask test` does)"
    );
    path
}

/// Starts a child appliance, registers two users and sends `SENT` messages between them.
async fn busy_appliance(dir: &std::path::Path) -> (Reaper, String, String, Vec<String>) {
    let (child, addr, metrics) = spawn_parley_with_metrics(
        &["serve", "--dev"],
        &[("PARLEY__STORAGE__DATA_DIR", dir.as_os_str()), ("PARLEY__SERVER_NAME", "test.local".as_ref())],
    );
    let child = Reaper(child);
    let http = reqwest::Client::new();
    let mut users = Vec::new();
    for name in ["ana", "bob"] {
        let body = json!({ "username": name, "password": "password-1" });
        let r = call(&http, "POST", &format!("http://{addr}/api/auth/register"), None, Some(body)).await;
        users.push((
            r["user"]["user_id"].as_str().unwrap().to_owned(),
            r["access_token"].as_str().unwrap().to_owned(),
        ));
    }
    let body = json!({ "user_id": users[1].0 });
    let chat =
        call(&http, "POST", &format!("http://{addr}/api/chats/direct"), Some(&users[0].1), Some(body)).await;
    let chat = chat["chat_id"].as_str().unwrap().to_owned();
    for i in 0..SENT {
        let body = json!({ "client_id": format!("m{i}"), "text": format!("hello {i}") });
        let url = format!("http://{addr}/api/chats/{chat}/messages");
        let r = call(&http, "POST", &url, Some(&users[0].1), Some(body)).await;
        assert_eq!(r["seq"], i + 1, "{r}");
    }
    // A failed login, to be counted.
    let body = json!({ "login": "ana", "password": "wrong-password" });
    call(&http, "POST", &format!("http://{addr}/api/auth/login"), None, Some(body)).await;
    let secrets = vec![users[0].0.clone(), users[1].0.clone(), chat];
    (child, addr, metrics.expect("the binary reports its metrics address"), secrets)
}

#[tokio::test]
async fn metrics_pass_promtool_and_a_real_prometheus_scrape() {
    let promtool = tool("/usr/bin/promtool");
    let prometheus = tool("/usr/bin/prometheus");
    let dir = tempfile::tempdir().unwrap();
    let (_child, addr, metrics, ids) = busy_appliance(&dir.path().join("data")).await;

    let res = reqwest::get(format!("http://{metrics}/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    assert!(text.contains(&format!("parley_messages_accepted_total {SENT}")), "{text}");
    assert!(text.contains(r#"parley_login_failures_total{reason="bad_credentials"} 1"#));
    assert!(
        text.contains(r#"route="/api/chats/{chat_id}/messages",status="201""#),
        "route templates: {text}"
    );
    assert!(text.contains("parley_db_commit_duration_seconds_count"));
    assert!(text.contains("process_resident_memory_bytes"));
    for id in &ids {
        assert!(!text.contains(id.as_str()), "an ID leaked into a label: {id}");
    }
    // Not on the main listener unless a bearer token is configured.
    let main = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(main.status(), StatusCode::UNAUTHORIZED);

    // promtool: no parse errors and no lint findings at all.
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let findings =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && findings.trim().is_empty(), "promtool check metrics: {findings}");

    // A real Prometheus scrapes the appliance; PromQL returns the messages sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: parley\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let _prom = Reaper(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = format!("http://127.0.0.1:{port}/api/v1/query");
    // The first scrape comes 5–9 s after start even at a 1 s interval (FIELD-NOTES); bounded.
    let deadline = Instant::now() + Duration::from_secs(90);
    let value = loop {
        let res = reqwest::Client::new()
            .get(&query)
            .query(&[("query", "sum(parley_messages_accepted_total{job=\"parley\"})")])
            .send()
            .await;
        if let Ok(r) = res
            && let Ok(v) = r.json::<Value>().await
            && let Some(sample) = v["data"]["result"].get(0)
        {
            break sample["value"][1].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped the appliance");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(value, SENT.to_string());
}

#[tokio::test]
async fn metrics_on_the_main_listener_need_the_bearer_token() {
    let app = TestAppliance::start_with(|s| s.metrics.bearer_token = "a-long-enough-secret".into()).await;
    let res = app.http.get(app.url("/metrics")).bearer_auth("a-long-enough-secret").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("parley_build_info"));
    let res = app.http.get(app.url("/metrics")).bearer_auth("wrong-secret-of-any-size").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_keeps_what_was_acked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, addr, _metrics, ids) = busy_appliance(&data).await;
    let http = reqwest::Client::new();
    let ready = http.get(format!("http://{addr}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let body = json!({ "login": "bob", "password": "password-1" });
    let login = call(&http, "POST", &format!("http://{addr}/api/auth/login"), None, Some(body)).await;
    let mut ws =
        WsClient::connect(&format!("ws://{addr}/api/ws"), login["access_token"].as_str().unwrap()).await;
    ws.sync(json!({})).await;

    // `unsafe` is denied in this workspace, so signal through kill(1) rather than libc.
    let term = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(term.success());
    // The socket is closed with "going away" and a reason, not dropped.
    let close = ws.close_frame().await.expect("a close frame on SIGTERM");
    assert_eq!(close.0, 1001, "{close:?}");
    assert!(close.1.contains("shutting down"), "{close:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "parley did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // Everything acknowledged before the stop is there after a restart.
    let (child2, addr2, _) = spawn_parley_with_metrics(
        &["serve", "--dev"],
        &[("PARLEY__STORAGE__DATA_DIR", data.as_os_str()), ("PARLEY__SERVER_NAME", "test.local".as_ref())],
    );
    let _child2 = Reaper(child2);
    let body = json!({ "login": "ana", "password": "password-1" });
    let login = call(&http, "POST", &format!("http://{addr2}/api/auth/login"), None, Some(body)).await;
    let url = format!("http://{addr2}/api/chats/{}/messages?limit=100", ids[2]);
    let page = call(&http, "GET", &url, login["access_token"].as_str(), None).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), SENT);
}
