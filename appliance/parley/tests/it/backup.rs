//! Backups: an online archive of the database, media and keys with a manifest; restoring it
//! into a wiped data dir gives back the same database (compared as exports), and users log
//! in and carry on. Truncated or altered archives are refused and change nothing.

use std::io::{Read, Write};

use parley_core::backup::{restore_archive, verify_archive};
use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

/// The `db.surql` inside an archive.
fn dump_in(archive: &std::path::Path) -> String {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == "db.surql" {
            let mut s = String::new();
            entry.read_to_string(&mut s).unwrap();
            return s;
        }
    }
    panic!("no db.surql in {}", archive.display());
}

#[tokio::test]
async fn a_backup_restores_into_a_wiped_data_dir_identically() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    for i in 0..5 {
        app.send(&ana, &chat, &format!("a{i}"), &format!("message {i}")).await;
    }
    let group = app.group(&ana, "Team", &[&bob]).await;
    app.send(&bob, &group, "b1", "in the group").await;
    let png = {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    };
    let res = app
        .http
        .post(app.url("/api/media?name=red.png"))
        .bearer_auth(&ana.token)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let media: serde_json::Value = res.json().await.unwrap();
    let media_id = media["media_id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            &ana.token,
            json!({ "client_id": "img", "media_id": media_id }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, backup) = app.post("/api/admin/backups", &root.token, json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{backup}");
    assert_eq!((backup["users"].as_u64(), backup["kind"].as_str()), (Some(3), Some("manual")));
    assert!(backup["media_files"].as_u64().unwrap() >= 2, "the image and its thumbnail: {backup}");
    let name = backup["name"].as_str().unwrap().to_owned();
    let (_, list) = app.get("/api/admin/backups", &root.token).await;
    assert_eq!(list["backups"][0]["name"], name.as_str());
    let res = app
        .http
        .get(app.url(&format!("/api/admin/backups/{name}")))
        .bearer_auth(&root.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&name));
    let downloaded = res.bytes().await.unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = archive_dir.path().join(&name);
    std::fs::write(&archive, &downloaded).unwrap();
    let (s, _) = app.get("/api/admin/backups/..%2F..%2Fetc%2Fpasswd", &root.token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, metrics) = (0, app.core.metrics().render());
    assert!(metrics.contains("parley_backups_total{result=\"success\"} 1"), "counted");

    // Wipe the data dir, restore, start again.
    let a = archive.clone();
    let app = app
        .restart_after(|settings| async move {
            let dir = settings.storage.data_dir.clone();
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).unwrap()
                } else {
                    std::fs::remove_file(&p).unwrap()
                }
            }
            let r = restore_archive(&settings, &a).await.expect("restore");
            assert_eq!(r.manifest.counts.users, 3);
        })
        .await;
    let after = app.data_dir().join("after.surql");
    app.core.export_database(&after).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&after).unwrap(),
        dump_in(&archive),
        "the restored database is identical"
    );

    // Users log in and carry on; media and search come back.
    let ana = app.login("ana").await;
    let bob = app.login("bob").await;
    let (_, h) = app.get(&format!("/api/chats/{chat}/messages"), &bob.token).await;
    assert_eq!(h["messages"].as_array().unwrap().len(), 6, "{h}");
    let res = app
        .http
        .get(app.url(&format!("/api/media/{media_id}")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice());
    let sent = app.send(&bob, &chat, "after", "back again").await;
    assert_eq!(sent["seq"].as_u64(), Some(7), "seqs continue: {sent}");
    let mut found = false;
    for _ in 0..50 {
        let (_, hits) = app.get("/api/search/messages?q=group", &ana.token).await;
        if hits["total"].as_u64() == Some(1) {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "the search index is rebuilt");
}

#[tokio::test]
async fn corrupt_or_foreign_archives_are_refused_and_change_nothing() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let ana = app.register("ana").await;
    let (_, backup) = app.post("/api/admin/backups", &root.token, json!({})).await;
    let path = app.data_dir().join("backups").join(backup["name"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let truncated = dir.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let altered = dir.path().join("altered.tar.gz");
    {
        // Same files, one byte of the dump changed, the old manifest kept.
        let mut out =
            tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if name == "db.surql" {
                let i = data.len() / 2;
                data[i] = if data[i] == b'a' { b'b' } else { b'a' };
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            out.append_data(&mut h, &name, data.as_slice()).unwrap();
        }
        let mut f = std::fs::File::create(&altered).unwrap();
        f.write_all(&out.into_inner().unwrap().finish().unwrap()).unwrap();
    }
    for bad in [&truncated, &altered] {
        let err = verify_archive(bad, "test.local").unwrap_err();
        assert_eq!(err.code(), parley_types::ErrorCode::BackupInvalid, "{err}");
    }
    assert!(
        verify_archive(&path, "other.example").unwrap_err().to_string().contains("belongs to test.local")
    );

    let t = truncated.clone();
    let al = altered.clone();
    let app = app
        .restart_after(|settings| async move {
            for bad in [t, al] {
                let err = restore_archive(&settings, &bad).await.unwrap_err();
                assert!(err.to_string().contains("corrupt") || err.to_string().contains("manifest"), "{err}");
            }
        })
        .await;
    // Untouched: ana still logs in; no staging dir is left behind.
    app.login("ana").await;
    let _ = ana;
    let leftovers: Vec<_> = std::fs::read_dir(app.data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".restore-"))
        .collect();
    assert!(leftovers.is_empty(), "staging dirs are removed");

    // The CLI says so too, and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["restore", truncated.to_str().unwrap()])
        .env("PARLEY__STORAGE__DATA_DIR", dir.path().join("fresh"))
        .env("PARLEY__SERVER_NAME", "test.local")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("corrupt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_n() {
    let app = TestAppliance::start().await;
    let root = app.admin("root").await;
    let (s, err) = app
        .call(
            "PUT",
            "/api/admin/backups/schedule",
            Some(&root.token),
            Some(json!({ "enabled": true, "interval_hours": 0, "keep": 2 })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    let (s, sched) = app
        .call(
            "PUT",
            "/api/admin/backups/schedule",
            Some(&root.token),
            Some(json!({ "enabled": true, "interval_hours": 24, "keep": 2 })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sched}");
    // The first scheduled backup is due at once.
    let mut list = json!(null);
    for _ in 0..100 {
        (_, list) = app.get("/api/admin/backups", &root.token).await;
        if list["backups"].as_array().is_some_and(|b| !b.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(list["backups"][0]["kind"], "scheduled", "{list}");
    assert!(list["schedule"]["next_at"].as_i64().unwrap() > parley_types::now_millis() + 23 * 3_600_000);
    for _ in 0..3 {
        app.core.run_scheduled_backup(2).await.unwrap();
    }
    let (_, list) = app.get("/api/admin/backups", &root.token).await;
    assert_eq!(list["backups"].as_array().unwrap().len(), 2, "pruned to keep = 2: {list}");
    let name = list["backups"][1]["name"].as_str().unwrap();
    let (s, _) = app.call("DELETE", &format!("/api/admin/backups/{name}"), Some(&root.token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = app.get("/api/admin/backups", &root.token).await;
    assert_eq!(list["backups"].as_array().unwrap().len(), 1);
}
