//! Running the real `parley` binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Starts `parley ARGS` with `envs`; returns the child and the address it reports listening on.
pub fn spawn_parley(args: &[&str], envs: &[(&str, &std::ffi::OsStr)]) -> (Child, String) {
    let (child, addr, _) = spawn_parley_with_metrics(args, envs);
    (child, addr)
}

/// Like [`spawn_parley`], also returning the metrics listener's address. Both listeners take a
/// free port unless `envs` says otherwise, so parallel tests never collide.
pub fn spawn_parley_with_metrics(
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
) -> (Child, String, Option<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("PARLEY__HTTP__LISTEN", "127.0.0.1:0")
        .env("PARLEY__METRICS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn parley");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut metrics = None;
    let addr = loop {
        let line = lines.next().expect("parley exited before listening").expect("stderr line");
        if let Some(rest) = line.split("metrics at http://").nth(1) {
            metrics = Some(rest.trim().trim_end_matches("/metrics").to_owned());
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().split("://").nth(1).expect("url").to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr, metrics)
}

/// A JSON request; returns the decoded body (Null when empty).
pub async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method.parse().expect("method"), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let text = req.send().await.expect("request").text().await.expect("body");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json body") }
}
