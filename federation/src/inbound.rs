//! Inbound side: accepting connections, classifying them by certificate (pinned peer, CA peer,
//! or stranger allowed only the peering handshake) and serving request streams.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parley_types::ServerName;

use crate::ids::PeerId;
use crate::invite::unix_now;
use crate::manager::Inner;
use crate::outbound::peer_certificate;
use crate::peers::{Admit, Link};
use crate::rules::{Violation, check_transaction};
use crate::store::{InboundTransaction, PeerRecord, Trust};
use crate::wire::{
    self, Ack, Answer, ErrorCode, EventAck, EventResult, FrameError, MAX_FRAME_BYTES, Query, Request,
    Response, Transaction, WireError,
};

pub(crate) async fn accept_loop(inner: Arc<Inner>) {
    while let Some(incoming) = inner.endpoint.accept().await {
        let inner = inner.clone();
        tokio::spawn(async move {
            let conn = match tokio::time::timeout(inner.config.connect_timeout, incoming).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "federation handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("federation handshake timed out");
                    return;
                }
            };
            classify(inner, conn).await;
        });
    }
}

async fn classify(inner: Arc<Inner>, conn: quinn::Connection) {
    let Ok((fp, info)) = peer_certificate(&conn) else {
        return conn.close(ErrorCode::Unpinned.as_u32().into(), b"no certificate");
    };
    if let Some(record) = inner.peer_by_fingerprint(&fp) {
        return inner.register(record.peer_id(), conn, false);
    }
    if let Some(ca) = &inner.ca
        && !info
            .dns_names
            .iter()
            .filter_map(|n| ServerName::parse(n).ok())
            .any(|n| inner.table.read().is_revoked_name(&n))
    {
        let certs = conn
            .peer_identity()
            .and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok());
        let name =
            certs.as_ref().and_then(|c| c.split_first()).and_then(|(leaf, rest)| ca.client_name(leaf, rest));
        if let (Some(name), Some(public_key)) = (name, info.public_key.clone()) {
            let record = PeerRecord {
                address: ca.address_of(&name, inner.config.default_port),
                server_name: name,
                fingerprint: fp,
                public_key,
                trust: Trust::Ca,
                added_at: unix_now(),
                revoked_at: None,
            };
            if let Err(e) = inner.add_peer(record.clone()).await {
                tracing::warn!(error = %e, "could not store CA-trusted peer");
                return conn.close(ErrorCode::TryLater.as_u32().into(), b"storage unavailable");
            }
            return inner.register(record.peer_id(), conn, false);
        }
    }
    // A stranger: it may only run the peering handshake.
    let Ok(_permit) = inner.unpinned.clone().try_acquire_owned() else {
        return conn.close(ErrorCode::Unpinned.as_u32().into(), b"too many unpinned connections");
    };
    let done =
        tokio::time::timeout(inner.config.peering_timeout, serve_peering(&inner, &conn, fp, info)).await;
    match done {
        Ok(Ok(record)) => inner.register(record.peer_id(), conn, false),
        Ok(Err((code, reason))) => {
            tracing::warn!(%fp, ?code, %reason, "federation connection from an unpinned certificate refused");
            conn.close(code.as_u32().into(), reason.as_bytes());
        }
        Err(_) => conn.close(ErrorCode::Unpinned.as_u32().into(), b"peering handshake timed out"),
    }
}

/// The inviter's side of peering. Anything but a valid `peering` frame closes the connection.
async fn serve_peering(
    inner: &Arc<Inner>,
    conn: &quinn::Connection,
    fingerprint: crate::ids::Fingerprint,
    info: crate::identity::CertInfo,
) -> Result<PeerRecord, (ErrorCode, String)> {
    let fail = |reason: &str| (ErrorCode::PeeringFailed, reason.to_owned());
    let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| (ErrorCode::Unpinned, e.to_string()))?;
    let req: Request = wire::read_frame(&mut recv, 4096)
        .await
        .map_err(|e| (ErrorCode::Unpinned, format!("not peered ({e})")))?;
    let Request::Peering { secret, address } = req else {
        return Err((ErrorCode::Unpinned, "certificate not pinned: only peering is allowed".into()));
    };
    // Identity from the certificate, never from the frame.
    let name = info
        .dns_names
        .iter()
        .find_map(|n| ServerName::parse(n).ok())
        .ok_or_else(|| fail("certificate names no server"))?;
    let public_key = info.public_key.ok_or_else(|| fail("certificate key is not ECDSA P-256"))?;
    if &name == inner.identity.server_name() {
        return Err(fail("certificate claims this server's name"));
    }
    if inner.active_peer(&name).is_some() {
        return Err(fail("that server name is already pinned to another certificate; revoke it first"));
    }
    if address.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
        return Err(fail("address must be host:port"));
    }
    let invite = inner
        .store
        .take_invite(&secret.hash())
        .await
        .map_err(|e| (ErrorCode::TryLater, e.to_string()))?
        .ok_or_else(|| fail("unknown or already used invite"))?;
    if !invite.secret_hash.verify(&secret) {
        return Err(fail("unknown or already used invite"));
    }
    if invite.expires_at <= unix_now() {
        return Err(fail("invite expired"));
    }
    let record = PeerRecord {
        server_name: name,
        fingerprint,
        public_key,
        address,
        trust: Trust::Pinned,
        added_at: unix_now(),
        revoked_at: None,
    };
    inner.add_peer(record.clone()).await.map_err(|e| (ErrorCode::TryLater, e.to_string()))?;
    let answer = Response::Peered { server_name: inner.identity.server_name().clone() };
    wire::write_frame(&mut send, &answer).await.map_err(|e| (ErrorCode::Internal, e.to_string()))?;
    let _ = send.finish();
    Ok(record)
}

pub(crate) async fn serve_connection(
    inner: Arc<Inner>,
    peer: PeerId,
    conn: quinn::Connection,
    link: Arc<Link>,
) {
    let reason = loop {
        match conn.accept_bi().await {
            Ok((send, recv)) => {
                tokio::spawn(serve_stream(
                    inner.clone(),
                    peer.clone(),
                    conn.clone(),
                    link.clone(),
                    send,
                    recv,
                ));
            }
            Err(e) => break e.to_string(),
        }
    };
    inner.connection_closed(&peer, &link, &conn, reason);
}

async fn respond(send: &mut quinn::SendStream, resp: &Response) {
    // The peer may be gone already; nothing to do about a failed answer.
    let _ = wire::write_frame(send, resp).await;
    let _ = send.finish();
}

async fn serve_stream(
    inner: Arc<Inner>,
    peer: PeerId,
    conn: quinn::Connection,
    link: Arc<Link>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    // Revocation closes connections, but a stream may already be in flight.
    if inner.active_peer(peer.server_name()).is_none() {
        return conn.close(ErrorCode::Revoked.as_u32().into(), b"revoked");
    }
    match link.admit(inner.config.rate_per_sec, inner.config.rate_burst) {
        Admit::Yes => {}
        Admit::SlowDown => {
            return respond(&mut send, &Response::Error(WireError::new(ErrorCode::SlowDown, "rate limit")))
                .await;
        }
        Admit::CutOff => {
            return inner.cut_off(&peer, &conn, ErrorCode::RateLimited, "kept sending over the rate limit");
        }
    }
    let req = match tokio::time::timeout(
        inner.config.request_timeout,
        wire::read_frame::<_, Request>(&mut recv, MAX_FRAME_BYTES),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(FrameError::Closed | FrameError::Io(_))) | Err(_) => return,
        Ok(Err(e)) => return inner.cut_off(&peer, &conn, e.code(), &e.to_string()),
    };
    link.frames_in.fetch_add(1, Ordering::Relaxed);
    let resp = match req {
        Request::Transaction(txn) => match transaction(&inner, &peer, &link, txn).await {
            Ok(resp) => resp,
            // No error frame first: the close carries code and reason, and closing at once
            // means the sender always sees the same thing (an error frame could race it).
            Err(v) => return inner.cut_off(&peer, &conn, v.code, &v.reason),
        },
        Request::Query(Query::ServerKey { server_name }) => match inner.active_peer(&server_name) {
            Some(r) => Response::Answer(Answer::ServerKey {
                server_name,
                public_key: r.public_key,
                fingerprint: r.fingerprint,
            }),
            None => Response::Error(WireError::new(ErrorCode::NotFound, "not a peer of this server")),
        },
        Request::Query(q) => match inner.handler.on_query(&peer, q).await {
            Ok(a) => Response::Answer(a),
            Err(e) => Response::Error(e),
        },
        Request::MediaFetch { media_id } => match inner.handler.on_media(&peer, &media_id).await {
            Ok(mut src) => {
                let head = Response::Media { content_type: src.content_type.clone(), length: src.length };
                if wire::write_frame(&mut send, &head).await.is_ok() {
                    let mut body = tokio::io::AsyncReadExt::take(&mut src.reader, src.length);
                    let _ = tokio::io::copy(&mut body, &mut send).await;
                }
                let _ = send.finish();
                link.frames_out.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => Response::Error(e),
        },
        Request::Peering { .. } => {
            Response::Error(WireError::new(ErrorCode::PeeringFailed, "already peered"))
        }
    };
    respond(&mut send, &resp).await;
    link.frames_out.fetch_add(1, Ordering::Relaxed);
}

/// Checks, deduplicates and hands a transaction to the core.
async fn transaction(
    inner: &Arc<Inner>,
    peer: &PeerId,
    link: &Link,
    txn: Transaction,
) -> Result<Response, Violation> {
    let pre = check_transaction(peer.server_name(), &txn, &|name| inner.key_of(name))?;
    let busy = || Ok(Response::Error(WireError::new(ErrorCode::TryLater, "storage unavailable")));
    // A replay racing its original: let the sender retry once the first has an ack.
    if !link.in_flight.lock().insert(txn.txn_id) {
        return Ok(Response::Error(WireError::new(ErrorCode::TryLater, "transaction in progress")));
    }
    struct Release<'a>(&'a Link, crate::ids::TxnId);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.in_flight.lock().remove(&self.1);
        }
    }
    let _release = Release(link, txn.txn_id);

    match inner.dedup.txn_ack(peer, &txn.txn_id).await {
        Ok(Some(ack)) => return Ok(Response::Ack(ack)),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "dedup lookup failed");
            return busy();
        }
    }
    let ids: Vec<_> = txn.events.iter().map(|e| e.event.event_id.clone()).collect();
    let seen = match inner.dedup.seen_events(&ids).await {
        Ok(s) if s.len() == ids.len() => s,
        Ok(_) => vec![None; ids.len()],
        Err(e) => {
            tracing::warn!(error = %e, "dedup lookup failed");
            return busy();
        }
    };
    let mut results: Vec<Option<EventResult>> = pre
        .into_iter()
        .zip(seen)
        .map(|(pre, seen)| {
            pre.or(seen.map(|r| match r {
                EventResult::Accepted { seq } | EventResult::Duplicate { seq } => {
                    EventResult::Duplicate { seq }
                }
                rejected => rejected,
            }))
        })
        .collect();
    let fresh: Vec<_> =
        txn.events.iter().zip(&results).filter(|(_, r)| r.is_none()).map(|(e, _)| e.clone()).collect();
    if !fresh.is_empty() {
        let n = fresh.len();
        let mut answers = inner
            .handler
            .on_transaction(peer, InboundTransaction { txn_id: txn.txn_id, events: fresh })
            .await
            .into_iter();
        for slot in results.iter_mut().filter(|r| r.is_none()) {
            *slot =
                Some(answers.next().unwrap_or_else(|| {
                    EventResult::rejected(ErrorCode::Internal, "no result from the handler")
                }));
        }
        debug_assert!(answers.next().is_none(), "handler gave more than {n} results");
    }
    let results: Vec<EventAck> = ids
        .into_iter()
        .zip(results)
        .map(|(event_id, r)| EventAck { event_id, result: r.unwrap_or_else(EventResult::accepted) })
        .collect();
    let accepted: Vec<_> = results
        .iter()
        .filter(|a| matches!(a.result, EventResult::Accepted { .. }))
        .map(|a| (a.event_id.clone(), a.result.clone()))
        .collect();
    let ack = Ack { txn_id: txn.txn_id, results };
    if let Err(e) = inner.dedup.record_events(&accepted).await {
        tracing::warn!(error = %e, "dedup record failed");
    }
    // A transaction with events to retry must not replay as answered.
    if ack.results.iter().all(|a| a.result.is_final())
        && let Err(e) = inner.dedup.record_txn(peer, &ack).await
    {
        tracing::warn!(error = %e, "dedup record failed");
    }
    Ok(Response::Ack(ack))
}
