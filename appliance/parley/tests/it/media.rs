//! Media through the real server: each kind round trip, access control, limits and bombs
//! leaving nothing behind, hostile names, deduplication, garbage collection and pictures.

use std::path::Path;

use parley_testkit::{TestAppliance, TestUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A minimal WAV file: 0.1 s of silence.
fn wav() -> Vec<u8> {
    let data = vec![0u8; 1600];
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&data);
    v
}

pub(crate) async fn upload(
    app: &TestAppliance,
    user: &TestUser,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url("/api/media"))
        .query(&[("name", name)])
        .bearer_auth(&user.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn fetch(app: &TestAppliance, token: &str, path: &str) -> reqwest::Response {
    app.http.get(app.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn send_media(app: &TestAppliance, user: &TestUser, chat: &str, id: &str, caption: &str) -> Value {
    let body = json!({ "client_id": format!("m-{id}"), "text": caption, "media_id": id });
    let (s, m) = app.post(&format!("/api/chats/{chat}/messages"), &user.token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    m
}

/// Files under the media store (blobs and temp), ignoring directories.
fn stored_files(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .map_or(0, |rd| rd.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
    }
    walk(&dir.join("media"))
}

#[tokio::test]
async fn every_kind_round_trips_with_safe_headers() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;

    // Image: dimensions, thumbnail, placeholder; caption kept; served inline.
    let bytes = png(64, 48);
    let (s, img) = upload(&app, &ana, "holiday.png", bytes.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{img}");
    assert_eq!((img["kind"].as_str(), img["mime"].as_str()), (Some("image"), Some("image/png")));
    assert_eq!((img["width"].as_u64(), img["height"].as_u64()), (Some(64), Some(48)));
    assert_eq!(img["thumbnail"], true);
    assert!(img["preview"].as_str().is_some_and(|p| p.len() > 6));
    let id = img["media_id"].as_str().unwrap();
    let m = send_media(&app, &ana, &chat, id, "look!").await;
    assert_eq!((m["kind"].as_str(), m["text"].as_str()), (Some("image"), Some("look!")));
    assert_eq!(m["media"]["media_id"], id);
    let res = fetch(&app, &bob.token, &format!("/api/media/{id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert!(h["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert!(h.contains_key("cache-control"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let thumb = fetch(&app, &bob.token, &format!("/api/media/{id}/thumbnail")).await;
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let t = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert!(t.width() <= 320 && t.height() <= 320);

    // A file: type from the bytes (not the name), served as an attachment, no thumbnail.
    let (s, file) = upload(&app, &ana, "notes.png", b"plain words, not a picture".to_vec()).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        (file["kind"].as_str(), file["mime"].as_str()),
        (Some("file"), Some("application/octet-stream"))
    );
    assert_eq!(file["size"], 26);
    let fid = file["media_id"].as_str().unwrap();
    let m = send_media(&app, &ana, &chat, fid, "").await;
    assert_eq!(m["kind"], "file");
    let res = fetch(&app, &bob.token, &format!("/api/media/{fid}")).await;
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"notes.png\"")
    );
    assert_eq!(
        fetch(&app, &bob.token, &format!("/api/media/{fid}/thumbnail")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Audio, with a range request as players make.
    let (s, audio) = upload(&app, &ana, "voice.wav", wav()).await;
    assert_eq!((s, audio["kind"].as_str()), (StatusCode::CREATED, Some("audio")));
    let aid = audio["media_id"].as_str().unwrap();
    send_media(&app, &ana, &chat, aid, "").await;
    let res = app
        .http
        .get(app.url(&format!("/api/media/{aid}")))
        .bearer_auth(&bob.token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], format!("bytes 0-9/{}", wav().len()));
    assert_eq!(res.bytes().await.unwrap().as_ref(), &wav()[..10]);

    // Video (an MP4 header is enough to be typed as one).
    let mut mp4 = vec![0, 0, 0, 0x18];
    mp4.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    mp4.extend_from_slice(&[0u8; 64]);
    let (s, video) = upload(&app, &ana, "clip.mp4", mp4).await;
    assert_eq!(
        (s, video["kind"].as_str(), video["mime"].as_str()),
        (StatusCode::CREATED, Some("video"), Some("video/mp4"))
    );

    // History carries the media; the caption and the file name are searchable.
    let (_, page) = app.get(&format!("/api/chats/{chat}/messages?limit=10"), &bob.token).await;
    let kinds: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"image") && kinds.contains(&"file") && kinds.contains(&"audio"), "{kinds:?}");
    app.core.flush_search().await.unwrap();
    let (_, hits) = app.get("/api/search/messages?q=notes", &bob.token).await;
    assert_eq!(hits["total"], 1, "{hits}");
}

#[tokio::test]
async fn only_those_who_may_see_it_get_it() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let chat = app.direct(&ana, &bob).await;
    let (_, img) = upload(&app, &ana, "a.png", png(8, 8)).await;
    let id = img["media_id"].as_str().unwrap().to_owned();
    // Before it is sent: only the uploader.
    assert_eq!(fetch(&app, &ana.token, &format!("/api/media/{id}")).await.status(), StatusCode::OK);
    assert_eq!(fetch(&app, &bob.token, &format!("/api/media/{id}")).await.status(), StatusCode::NOT_FOUND);
    send_media(&app, &ana, &chat, &id, "").await;
    assert_eq!(fetch(&app, &bob.token, &format!("/api/media/{id}")).await.status(), StatusCode::OK);
    for path in [format!("/api/media/{id}"), format!("/api/media/{id}/thumbnail")] {
        assert_eq!(fetch(&app, &eve.token, &path).await.status(), StatusCode::NOT_FOUND, "{path}");
        let anon = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    }
    // Eve cannot attach it to a message of hers either.
    let other = app.direct(&eve, &bob).await;
    let body = json!({ "client_id": "steal", "text": "", "media_id": id });
    let (s, _) = app.post(&format!("/api/chats/{other}/messages"), &eve.token, body).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&app, &bob.token, "/api/media/not-an-id").await.status(), StatusCode::NOT_FOUND);

    // The cookie route lets <img src> work without headers.
    let res = app.http.post(app.url("/api/media/cookie")).bearer_auth(&bob.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Path=/api/media")
            && cookie.contains("SameSite=Strict")
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .http
        .get(app.url(&format!("/api/media/{id}/thumbnail")))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversize_bombs_and_corrupt_images_leave_nothing() {
    let app = TestAppliance::start_with(|s| {
        s.media.max_upload_mib = 1;
        s.media.max_image_pixels = 1_000_000;
    })
    .await;
    let ana = app.register("ana").await;
    let (s, body) = upload(&app, &ana, "big.bin", vec![7u8; (1 << 20) + 1]).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    // A small PNG of 2000 x 2000 pixels: 4 megapixels to decode, over this server's limit.
    let bomb = {
        let img = image::GrayImage::new(2000, 2000);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    assert!(bomb.len() < 100_000);
    let (s, body) = upload(&app, &ana, "bomb.png", bomb).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_media")),
        "{body}"
    );
    let mut corrupt = png(32, 32);
    corrupt.truncate(60);
    let (s, body) = upload(&app, &ana, "broken.png", corrupt).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_media")));
    let (s, _) = upload(&app, &ana, "empty", Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(stored_files(app.data_dir()), 0, "failed uploads left files behind");
}

#[tokio::test]
async fn names_dedup_quota_and_collection() {
    let app = TestAppliance::start_with(|s| {
        s.media.quota_mib = 1;
        s.media.unused_ttl_hours = 0;
    })
    .await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;

    // A hostile name is reduced to a plain file name.
    let (_, m) = upload(&app, &ana, "../../../etc/passwd", b"root:x:0:0".to_vec()).await;
    assert_eq!(m["name"], "passwd");
    // The same bytes twice: two uploads, one blob.
    let (_, a) = upload(&app, &ana, "one.png", png(16, 16)).await;
    let (_, b) = upload(&app, &ana, "two.png", png(16, 16)).await;
    assert_ne!(a["media_id"], b["media_id"]);
    // passwd + the shared original + the shared thumbnail.
    assert_eq!(stored_files(app.data_dir()), 3);

    // Quota: 1 MiB in total.
    let (s, body) = upload(&app, &ana, "half.bin", vec![1u8; 700_000]).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = upload(&app, &ana, "more.bin", vec![2u8; 700_000]).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("quota_exceeded")));

    // Sent media survive collection; unused ones (here: at once) do not.
    let sent = a["media_id"].as_str().unwrap();
    let msg = send_media(&app, &ana, &chat, sent, "keep").await;
    let removed = app.core.collect_media().await.unwrap();
    assert_eq!(removed, 3, "passwd, two.png and half.bin were never used");
    assert_eq!(
        fetch(&app, &ana.token, &format!("/api/media/{}", b["media_id"].as_str().unwrap())).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(fetch(&app, &bob.token, &format!("/api/media/{sent}")).await.status(), StatusCode::OK);
    assert_eq!(stored_files(app.data_dir()), 2, "the sent image and its thumbnail remain");

    // Deleting the message for everyone releases its media, which is then removed.
    let (s, _) = app
        .call("DELETE", &format!("/api/chats/{chat}/messages/{}", msg["seq"]), Some(&ana.token), None)
        .await;
    assert!(s.is_success());
    let (_, page) = app.get(&format!("/api/chats/{chat}/messages?limit=10"), &bob.token).await;
    assert!(page["messages"].as_array().unwrap().iter().all(|m| m.get("media").is_none_or(Value::is_null)));
    app.core.collect_media().await.unwrap();
    assert_eq!(fetch(&app, &ana.token, &format!("/api/media/{sent}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored_files(app.data_dir()), 0);
}

#[tokio::test]
async fn profile_and_group_pictures() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let (_, pic) = upload(&app, &ana, "me.png", png(40, 40)).await;
    let id = pic["media_id"].as_str().unwrap();
    let mut bob_live = app.ws(&bob).await;
    bob_live.sync(json!({})).await;
    let (s, me) = app.call("PUT", "/api/me/avatar", Some(&ana.token), Some(json!({ "media_id": id }))).await;
    assert_eq!((s, me["avatar"].as_str()), (StatusCode::OK, Some(id)));
    // Bob, online, sees the new picture on their 1:1 at once.
    let live = bob_live.next_of("chat").await;
    assert_eq!(
        (live["chat"]["chat_id"].as_str(), live["chat"]["avatar"].as_str()),
        (Some(chat.as_str()), Some(id))
    );
    // Anyone logged in sees it; Bob's chat list shows it for the 1:1.
    assert_eq!(fetch(&app, &bob.token, &format!("/api/media/{id}/thumbnail")).await.status(), StatusCode::OK);
    let (_, chats) = app.get("/api/chats", &bob.token).await;
    let summary = chats.as_array().unwrap().iter().find(|c| c["chat_id"] == chat.as_str()).unwrap().clone();
    assert_eq!(summary["avatar"], id);
    let (_, profile) = app.get(&format!("/api/users/{}", ana.id), &bob.token).await;
    assert_eq!(profile["avatar"], id);
    // Only images, and only one's own uploads.
    let (_, file) = upload(&app, &ana, "cv.pdf", b"%PDF-1.7\n".to_vec()).await;
    let (s, _) = app
        .call("PUT", "/api/me/avatar", Some(&ana.token), Some(json!({ "media_id": file["media_id"] })))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.call("PUT", "/api/me/avatar", Some(&bob.token), Some(json!({ "media_id": id }))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Group pictures: admins only.
    let group = app.group(&ana, "Team", &[&bob]).await;
    let (_, gpic) = upload(&app, &bob, "g.png", png(20, 20)).await;
    let (s, _) = app
        .call(
            "PUT",
            &format!("/api/chats/{group}/avatar"),
            Some(&bob.token),
            Some(json!({ "media_id": gpic["media_id"] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, gpic) = upload(&app, &ana, "g.png", png(20, 20)).await;
    let (s, g) = app
        .call(
            "PUT",
            &format!("/api/chats/{group}/avatar"),
            Some(&ana.token),
            Some(json!({ "media_id": gpic["media_id"] })),
        )
        .await;
    assert_eq!((s, &g["avatar"]), (StatusCode::OK, &gpic["media_id"]));
    let (s, g) = app.call("DELETE", &format!("/api/chats/{group}/avatar"), Some(&ana.token), None).await;
    assert_eq!((s, g["avatar"].is_null()), (StatusCode::OK, true));
    let (s, me) = app.call("DELETE", "/api/me/avatar", Some(&ana.token), None).await;
    assert_eq!((s, me["avatar"].is_null()), (StatusCode::OK, true));
}
